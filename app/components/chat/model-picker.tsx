'use client';

import { useI18n } from '../../i18n/provider';
import type { RouterOutputs } from '../../lib/trpc';

type ModelOption = RouterOutputs['models']['list'][number];

/** Only the models the caller may use arrive from models.list; the ones not ready are shown but disabled. */
export function ModelPicker({ models, value, onChange }: { models: ModelOption[] | null; value: string | null; onChange(name: string): void }) {
  const { t } = useI18n();
  if (models && models.length === 0) return <span className="muted model-picker-empty">{t('chat.noModels')}</span>;
  return (
    <select
      className="model-picker"
      aria-label={t('chat.model')}
      data-testid="model-picker"
      value={value ?? ''}
      onChange={(e) => onChange(e.target.value)}
      disabled={!models}
    >
      {!value && <option value="">{t('chat.model')}</option>}
      {value && models && !models.some((m) => m.name === value) && <option value={value}>{value}</option>}
      {models?.map((m) => (
        <option key={m.name} value={m.name} disabled={!m.ready}>
          {m.ready ? m.name : t('chat.modelNotReady', { name: m.name })}
        </option>
      ))}
    </select>
  );
}
