'use client';

import { useState } from 'react';
import { useI18n } from '../../i18n/provider';
import { formatBytes } from '../fleet/format';
import { FormField, VersionSelect } from './form-field';
import type { VersionOption } from './finetune-form';
import { buildQuantizeSpec, initialQuantizeForm, targetsFor, type QuantizeForm } from './job-form';
import { useJobSubmit } from './use-job-submit';
import { useTRPC } from '../../lib/trpc';
import type { DatasetOption } from './views';

const FIELDS = Object.keys(initialQuantizeForm());

/**
 * The quantization form: a GGUF source offers Enclave's own CPU quantizer (q8_0, f16), a Hugging Face
 * checkpoint llm-compressor's schemes on a GPU; the perplexity limit is the gate promotion must pass.
 */
export function QuantizeFormView({ versions, datasets, initialSource }: { versions: (VersionOption & { sizeBytes: number | null })[]; datasets: DatasetOption[]; initialSource: string | null }) {
  const { t } = useI18n();
  const start = versions.find((v) => v.id === initialSource);
  const [form, setForm] = useState<QuantizeForm>(() => ({ ...initialQuantizeForm(), sourceVersionId: start?.id ?? '', target: start ? (targetsFor(start.format)[0] ?? '') : '' }));
  const trpc = useTRPC();
  const { submit, submitted, serverErrors, clearError, clearErrors, busy } = useJobSubmit(trpc.jobs.createQuantize.mutationOptions(), FIELDS);
  const source = versions.find((v) => v.id === form.sourceVersionId);
  const targets = targetsFor(source?.format);
  const built = buildQuantizeSpec(form, source?.format);
  const errorOf = (field: string) => serverErrors[field] ?? (submitted && built.errors ? built.errors[field] : field === 'maxPerplexityDeltaPct' ? built.errors?.[field] : undefined);

  const set = <K extends keyof QuantizeForm>(field: K, value: QuantizeForm[K]) => {
    setForm((f) => ({ ...f, [field]: value }));
    clearError(field);
  };
  const chooseSource = (id: string) => {
    const v = versions.find((x) => x.id === id);
    const allowed = targetsFor(v?.format);
    setForm((f) => ({ ...f, sourceVersionId: id, target: allowed.includes(f.target) ? f.target : (allowed[0] ?? '') }));
    clearErrors();
  };

  return (
    <div className="deploy-layout">
      <form className="card job-form" onSubmit={(e) => void submit(e, built.spec)} noValidate data-testid="quantize-form">
        <FormField name="sourceVersionId" label={t('jobs.form.source')} error={errorOf('sourceVersionId')} wide>
          <VersionSelect versions={versions} value={form.sourceVersionId} onChange={chooseSource} testId="q-source" />
        </FormField>
        <FormField name="target" label={t('jobs.form.target')} error={errorOf('target')}>
          <select value={form.target} onChange={(e) => set('target', e.target.value)} disabled={!source} data-testid="q-target">
            <option value="">{t('jobs.form.chooseTarget')}</option>
            {targets.map((target) => (
              <option key={target} value={target}>
                {target}
              </option>
            ))}
          </select>
        </FormField>
        <FormField name="maxPerplexityDeltaPct" label={t('jobs.form.maxDelta')} hint={t('jobs.form.maxDeltaHint')} error={errorOf('maxPerplexityDeltaPct')}>
          <input type="text" inputMode="decimal" value={form.maxPerplexityDeltaPct} onChange={(e) => set('maxPerplexityDeltaPct', e.target.value)} data-testid="q-max-delta" />
        </FormField>
        <FormField name="evalDatasetId" label={t('jobs.form.evalDataset')} hint={t('jobs.form.evalDatasetHint')} error={errorOf('evalDatasetId')} wide>
          <select value={form.evalDatasetId} onChange={(e) => set('evalDatasetId', e.target.value)} data-testid="q-dataset">
            <option value="">{t('jobs.form.bundledText')}</option>
            {datasets.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
              </option>
            ))}
          </select>
        </FormField>
        <div className="form-actions">
          {serverErrors[''] && <span className="form-error" data-testid="form-error">{serverErrors['']}</span>}
          <button type="submit" className="button button-primary" disabled={busy} data-testid="q-submit">
            {t('jobs.form.submitQuantize')}
          </button>
        </div>
      </form>
      <aside className="card dry-run" data-testid="quantize-preview">
        <h2>{t('jobs.form.estimate')}</h2>
        {!source ? (
          <p className="muted" style={{ margin: 0 }}>{t('jobs.form.estimateWaiting')}</p>
        ) : (
          <>
            <div>
              <h3>{t('jobs.form.where')}</h3>
              <p style={{ margin: 0 }}>{source.format === 'gguf' ? t('jobs.form.whereGguf') : t('jobs.form.whereHf')}</p>
            </div>
            {/* No size forecast: which tensors stay unquantized (norms, embeddings) varies by model, and the job measures the real one. */}
            <dl className="kv">
              <dt>{t('jobs.sizeBefore')}</dt>
              <dd data-testid="source-size">{formatBytes(source.sizeBytes)}</dd>
            </dl>
          </>
        )}
      </aside>
    </div>
  );
}
