'use client';

import { useMutation, useQuery } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useEffect, useState, type FormEvent } from 'react';
import { useI18n } from '../../i18n/provider';
import { Field } from '../field';
import { readableError } from '../../lib/errors';
import { useTRPC } from '../../lib/trpc';
import type { CreateInput } from './views';
import { parsePrompts } from './parse-prompts';

interface FormState {
  name: string;
  targetKind: 'deployment' | 'url';
  deploymentId: string;
  via: 'gateway' | 'replica';
  url: string;
  model: string;
  apiKey: string;
  mode: 'concurrency' | 'rate' | 'sweep';
  concurrency: string;
  rate: string;
  burstiness: string;
  requests: string;
  warmup: string;
  workload: 'random' | 'prompts' | 'replay';
  inputTokens: string;
  outputTokens: string;
  rangeRatio: string;
  prompts: string;
  hours: string;
  speed: string;
  ttftMs: string;
  tpotMs: string;
  e2eMs: string;
  stages: string;
}

const INITIAL: FormState = {
  name: '',
  targetKind: 'deployment',
  deploymentId: '',
  via: 'gateway',
  url: '',
  model: '',
  apiKey: '',
  mode: 'concurrency',
  concurrency: '4',
  rate: '5',
  burstiness: '1',
  requests: '50',
  warmup: '2',
  workload: 'random',
  inputTokens: '32',
  outputTokens: '16',
  rangeRatio: '0',
  prompts: '',
  hours: '24',
  speed: '1',
  ttftMs: '',
  tpotMs: '',
  e2eMs: '',
  stages: '4',
};

const n = (v: string) => (v.trim() === '' ? undefined : Number(v));

/** Builds the create request from the form; the server validates it again and names any bad field. */
function toInput(f: FormState): CreateInput {
  const workload =
    f.workload === 'random'
      ? { kind: 'random' as const, inputTokens: Number(f.inputTokens), outputTokens: Number(f.outputTokens), rangeRatio: Number(f.rangeRatio) }
      : f.workload === 'prompts'
        ? { kind: 'prompts' as const, prompts: parsePrompts(f.prompts), outputTokens: Number(f.outputTokens) }
        : { kind: 'replay' as const, hours: Number(f.hours), speed: Number(f.speed) };
  return {
    name: f.name.trim(),
    target: f.targetKind === 'deployment' ? { kind: 'deployment', deploymentId: f.deploymentId, via: f.via } : { kind: 'url', url: f.url.trim(), model: f.model.trim() },
    apiKey: f.targetKind === 'url' && f.apiKey ? f.apiKey : undefined,
    spec: {
      mode: f.mode,
      concurrency: Number(f.concurrency),
      rate: f.mode === 'rate' ? n(f.rate) : undefined,
      burstiness: Number(f.burstiness),
      requests: Number(f.requests),
      warmup: Number(f.warmup),
      workload,
      objectives: { ttftMs: n(f.ttftMs), tpotMs: n(f.tpotMs), e2eMs: n(f.e2eMs) },
      sweep: { stages: Number(f.stages), goodFraction: 0.9 },
    },
  };
}

export function NewLoadTestForm({ onCancel }: { onCancel: () => void }) {
  const { t } = useI18n();
  const router = useRouter();
  const [f, setF] = useState<FormState>(INITIAL);
  const [error, setError] = useState<string | null>(null);
  const set = <K extends keyof FormState>(k: K, v: FormState[K]) => setF((s) => ({ ...s, [k]: v }));
  const trpc = useTRPC();
  // Without the list (a failure), a URL target still works.
  const deploymentList = useQuery(trpc.deployments.list.queryOptions());
  const deployments = deploymentList.data ?? [];
  const create = useMutation(trpc.loadtests.create.mutationOptions());
  const busy = create.isPending || create.isSuccess;

  // A ready deployment is the likely target, picked once the list is known.
  useEffect(() => {
    const d = deployments;
    setF((s) => (s.deploymentId || !d[0] ? s : { ...s, deploymentId: (d.find((x) => x.status === 'ready') ?? d[0]).id }));
  }, [deployments]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    let input: CreateInput;
    try {
      input = toInput(f);
    } catch (err) {
      return setError(err instanceof Error ? err.message : String(err));
    }
    try {
      const { id } = await create.mutateAsync(input);
      router.push(`/loadtests/${id}`);
    } catch (err) {
      setError(readableError(err, t));
    }
  }

  return (
    <form className="card lt-form" onSubmit={submit} data-testid="loadtest-form">
      <Field label={t('loadtests.form.name')} wide>
        <input type="text" required maxLength={200} value={f.name} onChange={(e) => set('name', e.target.value)} data-testid="lt-name" />
      </Field>
      <Field label={t('loadtests.form.target')}>
        <select value={f.targetKind} onChange={(e) => set('targetKind', e.target.value as FormState['targetKind'])} data-testid="lt-target-kind">
          <option value="deployment">{t('loadtests.form.targetDeployment')}</option>
          <option value="url">{t('loadtests.form.targetUrl')}</option>
        </select>
      </Field>
      {f.targetKind === 'deployment' ? (
        <>
          <Field label={t('loadtests.form.deployment')}>
            <select value={f.deploymentId} onChange={(e) => set('deploymentId', e.target.value)} required data-testid="lt-deployment">
              {/* "None" only once the list is known: while it loads there is nothing to say yet. */}
              {deploymentList.isPending && <option value="">{t('common.loading')}</option>}
              {!deploymentList.isPending && deployments.length === 0 && <option value="">{t('loadtests.form.noDeployments')}</option>}
              {deployments.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.name} ({d.status})
                </option>
              ))}
            </select>
          </Field>
          <Field label={t('loadtests.form.via')} hint={t('loadtests.form.viaHint')} wide>
            <select value={f.via} onChange={(e) => set('via', e.target.value as FormState['via'])} data-testid="lt-via">
              <option value="gateway">{t('loadtests.form.viaGateway')}</option>
              <option value="replica">{t('loadtests.form.viaReplica')}</option>
            </select>
          </Field>
        </>
      ) : (
        <>
          <Field label={t('loadtests.form.url')} wide>
            <input type="url" required placeholder="http://host:8000/v1" value={f.url} onChange={(e) => set('url', e.target.value)} data-testid="lt-url" />
          </Field>
          <Field label={t('loadtests.form.model')}>
            <input type="text" required value={f.model} onChange={(e) => set('model', e.target.value)} data-testid="lt-model" />
          </Field>
          <Field label={t('loadtests.form.apiKey')} hint={t('loadtests.form.apiKeyHint')}>
            <input type="password" autoComplete="off" value={f.apiKey} onChange={(e) => set('apiKey', e.target.value)} />
          </Field>
        </>
      )}

      <Field label={t('loadtests.form.mode')}>
        <select value={f.mode} onChange={(e) => set('mode', e.target.value as FormState['mode'])} data-testid="lt-mode">
          <option value="concurrency">{t('loadtests.mode.concurrency')}</option>
          <option value="rate">{t('loadtests.mode.rate')}</option>
          <option value="sweep">{t('loadtests.mode.sweep')}</option>
        </select>
      </Field>
      {f.mode !== 'rate' && (
        <Field label={t('loadtests.form.concurrency')}>
          <input type="number" min={1} max={5000} required value={f.concurrency} onChange={(e) => set('concurrency', e.target.value)} data-testid="lt-concurrency" />
        </Field>
      )}
      {f.mode === 'rate' && (
        <>
          <Field label={t('loadtests.form.rate')}>
            <input type="number" min={0.01} step="any" required value={f.rate} onChange={(e) => set('rate', e.target.value)} data-testid="lt-rate" />
          </Field>
          <Field label={t('loadtests.form.burstiness')} hint={t('loadtests.form.burstinessHint')}>
            <input type="number" min={0.05} step="any" value={f.burstiness} onChange={(e) => set('burstiness', e.target.value)} />
          </Field>
        </>
      )}
      {f.mode === 'sweep' && (
        <Field label={t('loadtests.form.stages')}>
          <input type="number" min={1} max={20} value={f.stages} onChange={(e) => set('stages', e.target.value)} />
        </Field>
      )}
      <Field label={t('loadtests.form.requests')} hint={f.mode === 'sweep' ? t('loadtests.form.requestsPerStage') : undefined}>
        <input type="number" min={1} max={20000} required value={f.requests} onChange={(e) => set('requests', e.target.value)} data-testid="lt-requests" />
      </Field>
      <Field label={t('loadtests.form.warmup')} hint={t('loadtests.form.warmupHint')}>
        <input type="number" min={0} max={1000} value={f.warmup} onChange={(e) => set('warmup', e.target.value)} />
      </Field>

      <Field label={t('loadtests.form.workload')}>
        <select value={f.workload} onChange={(e) => set('workload', e.target.value as FormState['workload'])} data-testid="lt-workload">
          <option value="random">{t('loadtests.workload.random')}</option>
          <option value="prompts">{t('loadtests.workload.prompts')}</option>
          <option value="replay">{t('loadtests.workload.replay')}</option>
        </select>
      </Field>
      {f.workload === 'random' && (
        <>
          <Field label={t('loadtests.form.inputTokens')}>
            <input type="number" min={1} required value={f.inputTokens} onChange={(e) => set('inputTokens', e.target.value)} data-testid="lt-input-tokens" />
          </Field>
          <Field label={t('loadtests.form.rangeRatio')} hint={t('loadtests.form.rangeRatioHint')}>
            <input type="number" min={0} max={1} step="any" value={f.rangeRatio} onChange={(e) => set('rangeRatio', e.target.value)} />
          </Field>
        </>
      )}
      {f.workload !== 'replay' && (
        <Field label={t('loadtests.form.outputTokens')}>
          <input type="number" min={1} required value={f.outputTokens} onChange={(e) => set('outputTokens', e.target.value)} data-testid="lt-output-tokens" />
        </Field>
      )}
      {f.workload === 'prompts' && (
        <Field label={t('loadtests.form.prompts')} hint={t('loadtests.form.promptsHint')} full>
          <input type="file" accept=".jsonl,.txt,.json,text/plain" onChange={(e) => void e.target.files?.[0]?.text().then((text) => set('prompts', text))} />
          <textarea rows={4} value={f.prompts} onChange={(e) => set('prompts', e.target.value)} data-testid="lt-prompts" />
        </Field>
      )}
      {f.workload === 'replay' && (
        <>
          <Field label={t('loadtests.form.hours')}>
            <input type="number" min={1} max={720} value={f.hours} onChange={(e) => set('hours', e.target.value)} />
          </Field>
          <Field label={t('loadtests.form.speed')} hint={t('loadtests.form.speedHint')}>
            <input type="number" min={0.01} step="any" value={f.speed} onChange={(e) => set('speed', e.target.value)} />
          </Field>
        </>
      )}

      <Field label={t('loadtests.form.sloTtft')}>
        <input type="number" min={1} step="any" placeholder="—" value={f.ttftMs} onChange={(e) => set('ttftMs', e.target.value)} data-testid="lt-slo-ttft" />
      </Field>
      <Field label={t('loadtests.form.sloTpot')}>
        <input type="number" min={1} step="any" placeholder="—" value={f.tpotMs} onChange={(e) => set('tpotMs', e.target.value)} />
      </Field>
      <Field label={t('loadtests.form.sloE2e')}>
        <input type="number" min={1} step="any" placeholder="—" value={f.e2eMs} onChange={(e) => set('e2eMs', e.target.value)} />
      </Field>

      <div className="form-actions">
        {error && (
          <p className="form-error" role="alert" data-testid="lt-error">
            {error}
          </p>
        )}
        <span className="spacer" />
        <button type="button" className="button button-quiet" onClick={onCancel}>
          {t('loadtests.form.cancel')}
        </button>
        <button type="submit" className="button button-primary" disabled={busy || !f.name.trim()} data-testid="lt-submit">
          {t('loadtests.form.start')}
        </button>
      </div>
    </form>
  );
}
