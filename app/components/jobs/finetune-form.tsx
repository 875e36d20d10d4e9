'use client';

import { keepPreviousData, skipToken, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useI18n } from '../../i18n/provider';
import type { MessageKey } from '../../i18n/en';
import { EstimatePanel } from './estimate-panel';
import { GpuHostNeeds, NoBaseModel } from './job-help';
import { FormField, VersionSelect } from './form-field';
import { buildFinetuneSpec, initialFinetuneForm, SCHEDULERS, type FinetuneForm } from './job-form';
import { useJobSubmit } from './use-job-submit';
import { useTRPC } from '../../lib/trpc';
import { useDebounced } from '../../lib/use-debounced';
import type { DatasetOption, FinetuneInput } from './views';

const ESTIMATE_DELAY_MS = 400;
const NUMBER_FIELDS = {
  lora: ['lora_r', 'lora_alpha', 'lora_dropout'],
  training: ['learning_rate', 'epochs', 'per_device_batch_size', 'gradient_accumulation', 'max_seq_length', 'warmup_ratio', 'seed'],
} as const;
const FIELDS = Object.keys(initialFinetuneForm());

export interface VersionOption {
  id: string;
  label: string;
  format: string;
}

/** The fine-tune form: hyper-parameters with defaults, errors as they are typed, and the live memory and placement estimate. */
export function FinetuneFormView({ versions, datasets }: { versions: VersionOption[]; datasets: DatasetOption[] }) {
  const { t } = useI18n();
  const [form, setForm] = useState<FinetuneForm>(initialFinetuneForm);
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const trpc = useTRPC();
  const { submit, submitted, serverErrors, clearError, busy } = useJobSubmit(trpc.jobs.createFinetune.mutationOptions(), FIELDS);

  const built = buildFinetuneSpec(form);
  const specKey = built.spec ? JSON.stringify(built.spec) : null;
  const errorOf = (field: string) => serverErrors[field] ?? ((submitted || touched.has(field)) && built.errors ? built.errors[field] : undefined);
  const set = <K extends keyof FinetuneForm>(field: K, value: FinetuneForm[K]) => {
    setForm((f) => ({ ...f, [field]: value }));
    setTouched((s) => new Set(s).add(field));
    clearError(field);
  };

  // Debounced, and keyed by the spec asked about: an answer to an older spec never replaces a newer one.
  const asked = useDebounced(specKey, ESTIMATE_DELAY_MS);
  const estimated = useQuery({ ...trpc.jobs.estimate.queryOptions(asked ? (JSON.parse(asked) as FinetuneInput) : skipToken), placeholderData: keepPreviousData });
  const estimate = { result: estimated.error ? null : (estimated.data ?? null), error: estimated.error, checking: Boolean(specKey) && (asked !== specKey || estimated.isFetching) };

  const numberField = (field: keyof FinetuneForm) => (
    <FormField key={field} name={field} label={t(`jobs.form.${field}` as MessageKey)} error={errorOf(field)}>
      <input type="text" inputMode="decimal" value={form[field] as string} onChange={(e) => set(field, e.target.value as never)} onBlur={() => setTouched((s) => new Set(s).add(field))} data-testid={`ft-${field}`} />
    </FormField>
  );
  const effective = Number(form.per_device_batch_size) * Number(form.gradient_accumulation) * Number(form.gpus);

  return (
    <div className="deploy-layout">
      <form className="card job-form" onSubmit={(e) => void submit(e, built.spec)} noValidate data-testid="finetune-form">
        {versions.length === 0 && <NoBaseModel />}
        <GpuHostNeeds open={versions.length === 0} />
        <FormField name="baseVersionId" label={t('jobs.form.base')} error={errorOf('baseVersionId')} wide>
          <VersionSelect versions={versions} value={form.baseVersionId} onChange={(id) => set('baseVersionId', id)} testId="ft-base" />
        </FormField>
        <FormField name="datasetId" label={t('jobs.form.dataset')} error={errorOf('datasetId')} hint={datasets.length === 0 ? t('jobs.form.noDatasets') : undefined} wide>
          <select value={form.datasetId} onChange={(e) => set('datasetId', e.target.value)} data-testid="ft-dataset">
            <option value="">{t('jobs.form.chooseDataset')}</option>
            {datasets.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
                {typeof d.rows === 'number' ? ` (${d.rows})` : ''}
              </option>
            ))}
          </select>
        </FormField>
        <fieldset>
          <legend>{t('jobs.form.lora')}</legend>
          {NUMBER_FIELDS.lora.map(numberField)}
          <FormField name="target_modules" label={t('jobs.form.target_modules')} hint={t('jobs.form.target_modulesHint')} error={errorOf('target_modules')} wide>
            <input type="text" value={form.target_modules} onChange={(e) => set('target_modules', e.target.value)} data-testid="ft-target_modules" />
          </FormField>
        </fieldset>
        <fieldset>
          <legend>{t('jobs.form.training')}</legend>
          {NUMBER_FIELDS.training.map(numberField)}
          <FormField name="scheduler" label={t('jobs.form.scheduler')} error={errorOf('scheduler')}>
            <select value={form.scheduler} onChange={(e) => set('scheduler', e.target.value as FinetuneForm['scheduler'])}>
              {SCHEDULERS.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </FormField>
        </fieldset>
        <fieldset>
          <legend>{t('jobs.form.placement')}</legend>
          {numberField('gpus')}
          <div className="field" style={{ gridColumn: 'span 2', justifyContent: 'flex-end' }}>
            <label className="check-row">
              <input type="checkbox" checked={form.merge} onChange={(e) => set('merge', e.target.checked)} data-testid="ft-merge" />
              {t('jobs.form.merge')}
            </label>
            {Number.isFinite(effective) && effective > 0 && <small className="muted">{t('jobs.form.effectiveBatch', { n: effective })}</small>}
          </div>
        </fieldset>
        <div className="form-actions">
          {serverErrors[''] && <span className="form-error" data-testid="form-error">{serverErrors['']}</span>}
          {submitted && built.errors && !serverErrors[''] && <span className="form-error">{t('jobs.form.fixFields')}</span>}
          <button type="submit" className="button button-primary" disabled={busy} data-testid="ft-submit">
            {t('jobs.form.submitFinetune')}
          </button>
        </div>
      </form>
      <EstimatePanel estimate={estimate.result} error={estimate.error} checking={estimate.checking} waiting={!specKey} />
    </div>
  );
}
