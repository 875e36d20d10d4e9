'use client';

import { keepPreviousData, skipToken, useMutation, useQuery } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useMemo, useState, type FormEvent } from 'react';
import { useI18n } from '../../i18n/provider';
import type { MessageKey } from '../../i18n/en';
import { Field } from '../field';
import { useToast } from '../toast';
import { DryRunPanel } from './dry-run-panel';
import { useTRPC } from '../../lib/trpc';
import { useDebounced } from '../../lib/use-debounced';
import { buildSpec, type DeploymentSpecInput, DTYPES, FORM_ENGINES, initialSpecForm, isGpuFormEngine, QUANTIZATIONS, suggestName, TP_CHOICES, type SpecFormState } from './spec-form';
import type { ModelView, NodeView } from './views';

const DRY_RUN_DELAY_MS = 350;

interface Props {
  models: ModelView[];
  nodes: NodeView[];
  existingNames: string[];
  initialVersionId: string | null;
}

/** The deployment form, with the planner's live answer beside it as fields change. */
export function DeploymentForm({ models, nodes, existingNames, initialVersionId }: Props) {
  const { t } = useI18n();
  const toast = useToast();
  const router = useRouter();
  const versions = useMemo(() => models.flatMap((m) => m.versions.map((v) => ({ ...v, modelName: m.name }))), [models]);
  const initial = versions.find((v) => v.id === initialVersionId) ?? null;
  const [versionId, setVersionId] = useState(initial?.id ?? '');
  const [name, setName] = useState(initial ? suggestName(initial.modelName, initial.version, existingNames) : '');
  const [form, setForm] = useState<SpecFormState>(() => initialSpecForm(initial?.format));
  // Kept out of the spec form state: it is sent once, sealed by the server, and never shown again.
  const [upstreamKey, setUpstreamKey] = useState('');
  const trpc = useTRPC();
  const create = useMutation(trpc.deployments.create.mutationOptions());
  const busy = create.isPending || create.isSuccess;

  const set = <K extends keyof SpecFormState>(key: K, value: SpecFormState[K]) => setForm((f) => ({ ...f, [key]: value }));
  const built = buildSpec(form);
  const problem = 'problem' in built ? built.problem : null;
  const specKey = 'spec' in built ? JSON.stringify(built.spec) : null;
  const waiting = !versionId || form.engine === 'upstream';

  // Debounced, and keyed by the spec asked about: an answer to an older spec never replaces a newer one.
  const question = waiting || !specKey ? null : JSON.stringify({ modelVersionId: versionId, spec: JSON.parse(specKey) as DeploymentSpecInput });
  const asked = useDebounced(question, DRY_RUN_DELAY_MS);
  const current = asked !== null && asked === question;
  const planned = useQuery({
    ...trpc.deployments.dryRun.queryOptions(asked ? (JSON.parse(asked) as { modelVersionId: string; spec: DeploymentSpecInput }) : skipToken),
    placeholderData: keepPreviousData,
  });
  const dryRun = { result: planned.error ? null : (planned.data ?? null), error: planned.error, checking: !waiting && Boolean(specKey) && (!current || planned.isFetching) };

  function chooseVersion(id: string) {
    setVersionId(id);
    const v = versions.find((x) => x.id === id);
    if (!v) return;
    setForm((f) => ({ ...f, engine: initialSpecForm(v.format).engine }));
    if (!name.trim()) setName(suggestName(v.modelName, v.version, existingNames));
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!('spec' in built)) return;
    try {
      const key = form.engine === 'upstream' && upstreamKey.trim() ? upstreamKey.trim() : undefined;
      const created = await create.mutateAsync({ name: name.trim(), modelVersionId: versionId || undefined, spec: built.spec, upstreamKey: key });
      toast.show(t('form.created', { name: name.trim() }));
      router.push(`/deployments/${created.id}`);
    } catch (err) {
      toast.error(err);
    }
  }

  const gpuEngine = isGpuFormEngine(form.engine);
  return (
    <div className="deploy-layout">
      <form className="card deploy-form" onSubmit={submit} data-testid="deployment-form">
        <Field label={t('form.name')} hint={t('form.nameHint')}>
          <input type="text" required value={name} maxLength={128} onChange={(e) => setName(e.target.value)} data-testid="deploy-name" />
        </Field>
        <Field label={t('form.engine')}>
          <select value={form.engine} onChange={(e) => set('engine', e.target.value as SpecFormState['engine'])} data-testid="deploy-engine">
            {FORM_ENGINES.map((engine) => (
              <option key={engine} value={engine}>
                {t(`form.engine.${engine}` as MessageKey)}
              </option>
            ))}
          </select>
        </Field>
        <Field label={t('form.modelVersion')} wide>
          <select value={versionId} onChange={(e) => chooseVersion(e.target.value)} required={form.engine !== 'upstream'} data-testid="deploy-version">
            <option value="">{t('form.chooseVersion')}</option>
            {versions.map((v) => (
              <option key={v.id} value={v.id}>
                {v.modelName} · {v.version} ({v.format}
                {v.quantization ? `, ${v.quantization}` : ''})
              </option>
            ))}
          </select>
        </Field>

        {form.engine === 'upstream' && (
          <>
            <Field label={t('form.upstreamUrl')} wide>
              <input type="url" required placeholder="https://…/v1" value={form.upstreamUrl} onChange={(e) => set('upstreamUrl', e.target.value)} data-testid="deploy-upstream-url" />
            </Field>
            <Field label={t('form.upstreamModel')}>
              <input type="text" value={form.upstreamModel} onChange={(e) => set('upstreamModel', e.target.value)} />
            </Field>
            <Field label={t('form.upstreamKey')}>
              <input type="password" autoComplete="off" value={upstreamKey} onChange={(e) => setUpstreamKey(e.target.value)} data-testid="deploy-upstream-key" />
            </Field>
          </>
        )}

        {form.engine !== 'upstream' && (
          <>
            <Field label={t('form.tp')}>
              <select value={form.tp} onChange={(e) => set('tp', e.target.value as SpecFormState['tp'])} disabled={!gpuEngine} data-testid="deploy-tp">
                {TP_CHOICES.map((tp) => (
                  <option key={tp} value={tp}>
                    {tp === 'auto' ? t('form.tpAuto') : tp}
                  </option>
                ))}
              </select>
            </Field>
            <Field label={t('form.pp')}>
              <input type="number" min={1} max={64} value={form.pp} onChange={(e) => set('pp', e.target.value)} disabled={!gpuEngine} />
            </Field>
            <Field label={t('form.dtype')}>
              <select value={form.dtype} onChange={(e) => set('dtype', e.target.value as SpecFormState['dtype'])}>
                {DTYPES.map((d) => (
                  <option key={d} value={d}>
                    {d}
                  </option>
                ))}
              </select>
            </Field>
            <Field label={t('form.quantization')}>
              <select value={form.quantization} onChange={(e) => set('quantization', e.target.value as SpecFormState['quantization'])}>
                <option value="">{t('form.quantizationNone')}</option>
                {QUANTIZATIONS.map((q) => (
                  <option key={q} value={q}>
                    {q}
                  </option>
                ))}
              </select>
            </Field>
            <Field label={t('form.maxModelLen')} hint={t('form.maxModelLenHint')}>
              <input type="number" min={16} value={form.maxModelLen} onChange={(e) => set('maxModelLen', e.target.value)} data-testid="deploy-max-model-len" />
            </Field>
            <Field label={t('form.gpuMemoryUtilization')} hint={form.engine === 'tgi' || form.engine === 'sglang' ? t(`form.gpuMemoryUtilizationHint.${form.engine}`) : undefined}>
              <div className="slider-row">
                <input
                  type="range"
                  min={0.05}
                  max={1}
                  step={0.01}
                  value={form.gpuMemoryUtilization}
                  onChange={(e) => set('gpuMemoryUtilization', Number(e.target.value))}
                  disabled={!gpuEngine}
                  data-testid="deploy-gpu-util"
                />
                <output>{Math.round(form.gpuMemoryUtilization * 100)}%</output>
              </div>
            </Field>
            {form.engine === 'llamacpp' && (
              <>
                <Field label={t('form.context')}>
                  <input type="number" min={256} value={form.context} onChange={(e) => set('context', e.target.value)} />
                </Field>
                <Field label={t('form.sequences')}>
                  <input type="number" min={1} max={256} value={form.sequences} onChange={(e) => set('sequences', e.target.value)} />
                </Field>
              </>
            )}
          </>
        )}

        <Field label={t('form.replicas')}>
          <input type="number" min={0} max={64} value={form.replicas} onChange={(e) => set('replicas', e.target.value)} data-testid="deploy-replicas" />
        </Field>
        <Field label={t('form.labels')} hint={t('form.labelsHint')}>
          <input type="text" placeholder="zone=a" value={form.labels} onChange={(e) => set('labels', e.target.value)} />
        </Field>
        {gpuEngine && (
          <Field label={t('form.adapters')} hint={t('form.adaptersHint')} wide>
            <textarea rows={2} placeholder="sql=/models/adapters/sql" value={form.adapters} onChange={(e) => set('adapters', e.target.value)} />
          </Field>
        )}

        <div className="form-actions">
          {problem && (
            <p className="form-error" role="alert" data-testid="deploy-problem">
              {t(problem.field === 'labels' ? 'form.badLabels' : 'form.badAdapters', { part: problem.part })}
            </p>
          )}
          <span className="spacer" />
          <button type="submit" className="button button-primary" disabled={busy || !!problem || !name.trim()} data-testid="deploy-submit">
            {t('form.create')}
          </button>
        </div>
      </form>
      <DryRunPanel
        result={dryRun.result}
        error={dryRun.error}
        checking={dryRun.checking}
        waiting={waiting}
        external={form.engine === 'upstream'}
        utilization={form.gpuMemoryUtilization}
        nodes={nodes}
      />
    </div>
  );
}
