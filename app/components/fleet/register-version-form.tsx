'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useI18n } from '../../i18n/provider';
import { useTRPC } from '../../lib/trpc';
import { useToast } from '../toast';
import type { ModelView } from './views';

const FORMATS = ['hf', 'gguf', 'lora-adapter'] as const;
const EMPTY = { modelName: '', version: '', format: 'hf' as (typeof FORMATS)[number], location: '', dtype: '', quantization: '', parentVersionId: '' };

/** Registers a version of a new or existing model (engineers and admins); lineage through its parent. */
export function RegisterVersionForm({ models }: { models: ModelView[] }) {
  const { t } = useI18n();
  const toast = useToast();
  const [form, setForm] = useState(EMPTY);
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const register = useMutation(trpc.catalog.registerVersion.mutationOptions({ onSuccess: () => queryClient.invalidateQueries(trpc.catalog.list.pathFilter()) }));
  const busy = register.isPending;
  const set = (patch: Partial<typeof EMPTY>) => setForm((f) => ({ ...f, ...patch }));
  const optional = (value: string) => value.trim() || undefined;

  async function submit(event: FormEvent) {
    event.preventDefault();
    try {
      await register.mutateAsync({
        modelName: form.modelName.trim(),
        version: optional(form.version),
        format: form.format,
        location: form.location.trim(),
        dtype: optional(form.dtype),
        quantization: optional(form.quantization),
        parentVersionId: optional(form.parentVersionId),
      });
      toast.show(t('models.registered', { name: form.modelName.trim() }));
      setForm(EMPTY);
    } catch (err) {
      toast.error(err);
    }
  }

  return (
    <details className="card" data-testid="register-version">
      <summary className="button button-quiet" style={{ justifyContent: 'flex-start', width: '100%' }}>
        + {t('models.register')}
      </summary>
      <form className="inline-form" onSubmit={submit}>
        <label className="field">
          <span>{t('models.modelName')}</span>
          <input type="text" required list="known-models" value={form.modelName} onChange={(e) => set({ modelName: e.target.value })} data-testid="register-model-name" />
          <datalist id="known-models">
            {models.map((m) => (
              <option key={m.id} value={m.name} />
            ))}
          </datalist>
        </label>
        <label className="field field-narrow">
          <span>{t('models.version')}</span>
          <input type="text" placeholder={t('models.versionHint')} value={form.version} onChange={(e) => set({ version: e.target.value })} />
        </label>
        <label className="field field-narrow">
          <span>{t('models.format')}</span>
          <select value={form.format} onChange={(e) => set({ format: e.target.value as typeof form.format })}>
            {FORMATS.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
        </label>
        <label className="field" style={{ flexBasis: '100%' }}>
          <span>{t('models.location')}</span>
          <input type="text" required placeholder={t('models.locationHint')} value={form.location} onChange={(e) => set({ location: e.target.value })} data-testid="register-location" />
        </label>
        <label className="field field-narrow">
          <span>{t('models.dtype')}</span>
          <input type="text" placeholder="bfloat16" value={form.dtype} onChange={(e) => set({ dtype: e.target.value })} />
        </label>
        <label className="field field-narrow">
          <span>{t('models.quantization')}</span>
          <input type="text" placeholder="awq" value={form.quantization} onChange={(e) => set({ quantization: e.target.value })} />
        </label>
        <label className="field">
          <span>{t('models.parent')}</span>
          <select value={form.parentVersionId} onChange={(e) => set({ parentVersionId: e.target.value })}>
            <option value="">{t('models.parentNone')}</option>
            {models.flatMap((m) =>
              m.versions.map((v) => (
                <option key={v.id} value={v.id}>
                  {m.name} · {v.version}
                </option>
              )),
            )}
          </select>
        </label>
        <button type="submit" className="button button-primary" disabled={busy || !form.modelName.trim() || !form.location.trim()} data-testid="register-submit">
          {t('common.create')}
        </button>
      </form>
    </details>
  );
}
