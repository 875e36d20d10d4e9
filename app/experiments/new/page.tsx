'use client';

import { useMutation, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { WeightBar } from '../../components/experiments/weight-bar';
import { Field } from '../../components/field';
import { ReadOnlyNote } from '../../components/fleet/fleet-gate';
import { canManageFleet } from '../../components/fleet/roles';
import { useSession } from '../../components/session';
import { useErrorToast } from '../../components/toast';
import { useI18n } from '../../i18n/provider';
import { readableError } from '../../lib/errors';
import { useTRPC } from '../../lib/trpc';

interface VariantDraft {
  label: string;
  deploymentId: string;
  weight: string;
}

export default function NewExperimentPage() {
  const { t } = useI18n();
  const { me } = useSession();
  const router = useRouter();
  const trpc = useTRPC();
  const deploymentList = useQuery(trpc.deployments.list.queryOptions());
  useErrorToast(deploymentList.error);
  const deployments = deploymentList.data ?? null;
  const create = useMutation(trpc.experiments.create.mutationOptions());
  const start = useMutation(trpc.experiments.start.mutationOptions());
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [stickiness, setStickiness] = useState<'user' | 'key'>('user');
  const [startsAt, setStartsAt] = useState('');
  const [endsAt, setEndsAt] = useState('');
  const [startNow, setStartNow] = useState(true);
  const [variants, setVariants] = useState<VariantDraft[]>([
    { label: 'control', deploymentId: '', weight: '50' },
    { label: 'candidate', deploymentId: '', weight: '50' },
  ]);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  const names = new Set(deployments?.map((d) => d.name));
  const localProblem = names.has(name.trim())
    ? t('experiments.nameTaken')
    : variants.some((v) => !v.deploymentId)
      ? t('experiments.chooseDeployments')
      : variants.some((v) => !/^\d+$/.test(v.weight) || Number(v.weight) < 1)
        ? t('experiments.weightsPositive')
        : null;

  const update = (i: number, patch: Partial<VariantDraft>) => setVariants((all) => all.map((v, k) => (k === i ? { ...v, ...patch } : v)));

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (localProblem) return setProblem(localProblem);
    setBusy(true);
    setProblem(null);
    try {
      const { id } = await create.mutateAsync({
        name: name.trim(),
        description,
        stickiness,
        startsAt: startsAt ? new Date(startsAt).toISOString() : null,
        endsAt: endsAt ? new Date(endsAt).toISOString() : null,
        variants: variants.map((v) => ({ label: v.label.trim(), deploymentId: v.deploymentId, weight: Number(v.weight) })),
      });
      if (startNow) await start.mutateAsync({ id });
      router.push(`/experiments/${id}`);
    } catch (err) {
      setProblem(readableError(err, t));
      setBusy(false);
    }
  }

  return (
    <div className="manage-page fleet-page">
      <div className="page-head">
        <h1>{t('experiments.newTitle')}</h1>
        <span className="spacer" />
        <Link href="/experiments">← {t('experiments.backToList')}</Link>
      </div>
      {!canManageFleet(me.role) ? (
        <ReadOnlyNote />
      ) : !deployments ? (
        <p className="muted">{t('common.loading')}</p>
      ) : (
        <form className="card deploy-form" onSubmit={submit} data-testid="experiment-form" style={{ maxWidth: 860 }}>
          <Field label={t('experiments.name')} hint={t('experiments.nameHint')}>
            <input type="text" required maxLength={128} value={name} onChange={(e) => setName(e.target.value)} data-testid="experiment-name" />
          </Field>
          <Field label={t('experiments.stickiness')}>
            <select value={stickiness} onChange={(e) => setStickiness(e.target.value as 'user' | 'key')} data-testid="experiment-stickiness">
              <option value="user">{t('experiments.perUser')}</option>
              <option value="key">{t('experiments.perKey')}</option>
            </select>
          </Field>
          <Field label={t('experiments.description')} wide>
            <input type="text" maxLength={2000} value={description} onChange={(e) => setDescription(e.target.value)} />
          </Field>
          <Field label={t('experiments.startsAt')} hint={t('experiments.startsAtHint')}>
            <input type="datetime-local" value={startsAt} onChange={(e) => setStartsAt(e.target.value)} />
          </Field>
          <Field label={t('experiments.endsAt')} hint={t('experiments.endsAtHint')}>
            <input type="datetime-local" value={endsAt} onChange={(e) => setEndsAt(e.target.value)} />
          </Field>
          <div className="variant-rows">
            <strong>{t('experiments.variants')}</strong>
            {variants.map((v, i) => (
              <div className="variant-row" key={i} data-testid="variant-row">
                <Field label={t('experiments.label')}>
                  <input type="text" required maxLength={32} value={v.label} onChange={(e) => update(i, { label: e.target.value })} data-testid="variant-label" />
                </Field>
                <Field label={t('experiments.deployment')}>
                  <select value={v.deploymentId} onChange={(e) => update(i, { deploymentId: e.target.value })} data-testid="variant-deployment">
                    <option value="">{t('experiments.chooseDeployment')}</option>
                    {deployments.map((d) => (
                      <option key={d.id} value={d.id}>
                        {d.name}
                      </option>
                    ))}
                  </select>
                </Field>
                <Field label={t('experiments.weight')}>
                  <input type="number" min={1} max={10000} value={v.weight} onChange={(e) => update(i, { weight: e.target.value })} data-testid="variant-weight" />
                </Field>
                <button type="button" className="button" disabled={variants.length <= 2} onClick={() => setVariants((all) => all.filter((_, k) => k !== i))} aria-label={t('experiments.removeVariant')}>
                  ×
                </button>
              </div>
            ))}
            <div style={{ display: 'flex', gap: 12, alignItems: 'center' }}>
              <button type="button" className="button" disabled={variants.length >= 8} onClick={() => setVariants((all) => [...all, { label: `v${all.length + 1}`, deploymentId: '', weight: '50' }])} data-testid="add-variant">
                + {t('experiments.addVariant')}
              </button>
              <WeightBar variants={variants.map((v) => ({ label: v.label || '?', weight: Math.max(0, Number(v.weight) || 0) }))} />
            </div>
          </div>
          <label className="field field-wide" style={{ flexDirection: 'row', alignItems: 'center', gap: 8 }}>
            <input type="checkbox" checked={startNow} onChange={(e) => setStartNow(e.target.checked)} data-testid="experiment-start-now" />
            <span>{t('experiments.startNow')}</span>
          </label>
          <div className="form-actions field-wide" style={{ display: 'flex', gap: 12, alignItems: 'center' }}>
            {(problem ?? localProblem) && (
              <p className="form-error" role="alert" data-testid="experiment-problem">
                {problem ?? localProblem}
              </p>
            )}
            <span className="spacer" />
            <button type="submit" className="button button-primary" disabled={busy || !!localProblem || !name.trim()} data-testid="experiment-submit">
              {t('experiments.create')}
            </button>
          </div>
        </form>
      )}
    </div>
  );
}
