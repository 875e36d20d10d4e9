'use client';

import { useI18n } from '../../i18n/provider';
import type { GenerationSettings } from './use-chat';

const STORAGE_KEY = 'enclave.generation';

export function loadGenerationSettings(): GenerationSettings {
  try {
    const parsed = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}');
    return clampSettings(parsed);
  } catch {
    return {};
  }
}

export function saveGenerationSettings(settings: GenerationSettings) {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(settings));
}

/** Keeps values inside what POST /api/chat accepts (temperature 0..2, maxTokens 1..4096); blank means the server's default. */
export function clampSettings(raw: { temperature?: unknown; maxTokens?: unknown }): GenerationSettings {
  const out: GenerationSettings = {};
  const temperature = Number(raw.temperature);
  if (raw.temperature !== undefined && raw.temperature !== '' && Number.isFinite(temperature))
    out.temperature = Math.min(2, Math.max(0, temperature));
  const maxTokens = Number(raw.maxTokens);
  if (raw.maxTokens !== undefined && raw.maxTokens !== '' && Number.isFinite(maxTokens))
    out.maxTokens = Math.min(4096, Math.max(1, Math.round(maxTokens)));
  return out;
}

export function GenerationSettingsPopover({ value, onChange }: { value: GenerationSettings; onChange(next: GenerationSettings): void }) {
  const { t } = useI18n();
  return (
    <details className="menu menu-up">
      <summary className="icon-button" title={t('chat.settings')} aria-label={t('chat.settings')} data-testid="generation-settings">
        ⚙
      </summary>
      <div className="menu-panel card settings-panel">
        <strong>{t('chat.settings')}</strong>
        <label className="field">
          <span>
            {t('chat.temperature')} <span className="muted">{value.temperature ?? t('chat.useDefault')}</span>
          </span>
          <input
            type="range"
            min={0}
            max={2}
            step={0.1}
            value={value.temperature ?? 0.8}
            onChange={(e) => onChange({ ...value, temperature: Number(e.target.value) })}
            data-testid="temperature"
          />
        </label>
        <label className="field">
          <span>{t('chat.maxTokens')}</span>
          <input
            type="number"
            min={1}
            max={4096}
            placeholder={t('chat.useDefault')}
            value={value.maxTokens ?? ''}
            onChange={(e) => onChange(clampSettings({ ...value, maxTokens: e.target.value === '' ? undefined : e.target.value }))}
            data-testid="max-tokens"
          />
        </label>
        <button type="button" className="button button-quiet" onClick={() => onChange({})}>
          {t('chat.reset')}
        </button>
      </div>
    </details>
  );
}
