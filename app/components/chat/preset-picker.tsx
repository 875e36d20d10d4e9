'use client';

import Link from 'next/link';
import { useI18n } from '../../i18n/provider';
import type { RouterOutputs } from '../../lib/trpc';

export type PresetOption = RouterOutputs['presets']['list'][number];

/**
 * On a new chat's empty screen: the presets the user may start from (their own and those shared with
 * their groups). With none yet, a pointer to the page where they are made.
 */
export function PresetPicker({ presets, value, onChange }: { presets: PresetOption[] | null; value: string | null; onChange(preset: PresetOption | null): void }) {
  const { t } = useI18n();
  if (!presets) return null;
  const selected = presets.find((p) => p.id === value);
  if (presets.length === 0)
    return (
      <p className="muted" data-testid="preset-none">
        {t('presets.createFirst')} <Link href="/settings/presets">{t('presets.manage')}</Link>
      </p>
    );
  return (
    <div style={{ display: 'flex', alignItems: 'flex-end', gap: 10, marginTop: 12 }}>
      <label className="field" style={{ minWidth: 240, textAlign: 'left' }}>
        <span>{t('presets.pick')}</span>
        <select value={value ?? ''} onChange={(e) => onChange(presets.find((p) => p.id === e.target.value) ?? null)} data-testid="preset-picker">
          <option value="">{t('presets.noPreset')}</option>
          {presets.map((p) => (
            <option key={p.id} value={p.id}>
              {p.mine ? p.name : `${p.name} (${t('presets.sharedBy', { name: p.ownerName })})`}
            </option>
          ))}
        </select>
        {/* What a chat started from it answers from (the bases the user can read; the header's picker changes them later). */}
        {selected && selected.knowledge.length > 0 && (
          <small className="muted" data-testid="preset-picker-knowledge">
            {t('presets.knowledgeList', { names: selected.knowledge.map((k) => k.name).join(', ') })}
          </small>
        )}
      </label>
      <Link href="/settings/presets" className="button button-quiet" style={{ fontSize: 13 }}>
        {t('presets.manage')}
      </Link>
    </div>
  );
}
