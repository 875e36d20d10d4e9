'use client';

import { useState, type CSSProperties, type FormEvent } from 'react';
import { GroupShareField, type ShareableGroup } from '../../components/group-share';
import { KnowledgeChecklist } from '../../components/knowledge-checklist';
import { useI18n } from '../../i18n/provider';
import { readableError } from '../../lib/errors';
import type { RouterInputs, RouterOutputs } from '../../lib/trpc';

export type Preset = RouterOutputs['presets']['list'][number];
export type PresetValues = RouterInputs['presets']['create'];
type Policy = 'summarize' | 'trim' | 'turns';

/** What the form holds: numbers as typed ('' is "the model's default"), checked off by the server. */
interface Draft {
  name: string;
  systemPrompt: string;
  model: string;
  temperature: string;
  topP: string;
  maxTokens: string;
  contextPolicy: Policy;
  contextTurns: string;
  groupIds: string[];
  kbIds: string[];
}

const EMPTY: Draft = { name: '', systemPrompt: '', model: '', temperature: '', topP: '', maxTokens: '', contextPolicy: 'summarize', contextTurns: '6', groupIds: [], kbIds: [] };

export function draftOf(p: Preset | null): Draft {
  if (!p) return EMPTY;
  const text = (n: number | null) => (n === null ? '' : String(n));
  return {
    name: p.name,
    systemPrompt: p.systemPrompt,
    model: p.model ?? '',
    temperature: text(p.temperature),
    topP: text(p.topP),
    maxTokens: text(p.maxTokens),
    contextPolicy: p.contextPolicy,
    contextTurns: text(p.contextTurns) || '6',
    groupIds: p.groupIds,
    kbIds: p.kbIds,
  };
}

/** Inputs travel as plain JSON, where NaN would become null ("the default"): text that is no number is refused here, by name. */
function numberOrNull(field: string, s: string): number | null {
  if (s.trim() === '') return null;
  const n = Number(s);
  if (!Number.isFinite(n)) throw new Error(`${field} must be a number`);
  return n;
}

function valuesOf(d: Draft): PresetValues {
  return {
    name: d.name,
    systemPrompt: d.systemPrompt,
    model: d.model || null,
    temperature: numberOrNull('temperature', d.temperature),
    topP: numberOrNull('topP', d.topP),
    maxTokens: numberOrNull('maxTokens', d.maxTokens),
    contextPolicy: d.contextPolicy,
    contextTurns: d.contextPolicy === 'turns' ? numberOrNull('contextTurns', d.contextTurns) : null,
    groupIds: d.groupIds,
    kbIds: d.kbIds,
  };
}

const textareaStyle: CSSProperties = { padding: '7px 10px', border: '1px solid var(--border)', borderRadius: 8, background: 'var(--panel)', resize: 'vertical', minHeight: 96 };
const full: CSSProperties = { flex: '1 1 100%' };

/**
 * Creates a preset, or edits one of the caller's own (`editing`). The server checks every value and
 * names the field it refuses; that message stays under the form until the next try.
 */
export function PresetForm({
  editing,
  models,
  groups,
  anyGroup,
  bases,
  onSubmit,
  onCancel,
}: {
  editing: Preset | null;
  models: { name: string; ready: boolean }[];
  groups: ShareableGroup[];
  /** An admin may share with any group: the hint for no groups differs. */
  anyGroup: boolean;
  /** The knowledge bases the caller can read (the chat's picker lists the same). */
  bases: { id: string; name: string }[];
  onSubmit(values: PresetValues): Promise<void>;
  onCancel(): void;
}) {
  const { t } = useI18n();
  const [draft, setDraft] = useState<Draft>(() => draftOf(editing));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((d) => ({ ...d, [key]: value }));

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit(valuesOf(draft));
      if (!editing) setDraft(EMPTY);
    } catch (err) {
      setError(readableError(err, t));
    } finally {
      setBusy(false);
    }
  }

  // A preset's model that is gone (or not granted now) is still shown, so saving does not silently drop it.
  const modelNames = models.map((m) => m.name);
  if (draft.model && !modelNames.includes(draft.model)) modelNames.unshift(draft.model);
  // Its bases the list has not loaded yet (or no longer holds) stay shown, named, so saving does not silently drop them.
  const baseOptions = [...bases, ...(editing?.knowledge ?? []).filter((k) => draft.kbIds.includes(k.id) && !bases.some((b) => b.id === k.id))];

  return (
    <form className="card inline-form" onSubmit={submit} noValidate data-testid="preset-form">
      {editing && (
        <strong style={full} data-testid="preset-editing">
          {t('presets.editing', { name: editing.name })}
        </strong>
      )}
      <label className="field">
        <span>{t('presets.name')}</span>
        <input value={draft.name} maxLength={100} onChange={(e) => set('name', e.target.value)} data-testid="preset-name" />
      </label>
      <label className="field">
        <span>{t('presets.model')}</span>
        <select value={draft.model} onChange={(e) => set('model', e.target.value)} data-testid="preset-model">
          <option value="">{t('presets.anyModel')}</option>
          {modelNames.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>{t('presets.context')}</span>
        <select value={draft.contextPolicy} onChange={(e) => set('contextPolicy', e.target.value as Policy)} data-testid="preset-context">
          {(['summarize', 'trim', 'turns'] as const).map((p) => (
            <option key={p} value={p}>
              {t(`context.option.${p}`)}
            </option>
          ))}
        </select>
      </label>
      {/* The numbers on a row of their own, under the wider choices. */}
      <div style={{ ...full, display: 'flex', flexWrap: 'wrap', gap: 12 }}>
        {draft.contextPolicy === 'turns' && (
          <label className="field field-narrow">
            <span>{t('presets.contextTurns')}</span>
            <input type="number" min={1} max={1000} value={draft.contextTurns} onChange={(e) => set('contextTurns', e.target.value)} data-testid="preset-context-turns" />
          </label>
        )}
        <label className="field field-narrow">
          <span>{t('presets.temperature')}</span>
          <input type="number" min={0} max={2} step={0.1} placeholder={t('presets.default')} value={draft.temperature} onChange={(e) => set('temperature', e.target.value)} data-testid="preset-temperature" />
        </label>
        <label className="field field-narrow">
          <span>{t('presets.topP')}</span>
          <input type="number" min={0.01} max={1} step={0.05} placeholder={t('presets.default')} value={draft.topP} onChange={(e) => set('topP', e.target.value)} data-testid="preset-top-p" />
        </label>
        <label className="field field-narrow">
          <span>{t('presets.maxTokens')}</span>
          <input type="number" min={1} max={4096} placeholder={t('presets.default')} value={draft.maxTokens} onChange={(e) => set('maxTokens', e.target.value)} data-testid="preset-max-tokens" />
        </label>
      </div>
      <label className="field" style={full}>
        <span>{t('presets.systemPrompt')}</span>
        <textarea
          rows={4}
          maxLength={8000}
          style={textareaStyle}
          placeholder={t('systemPrompt.placeholder')}
          value={draft.systemPrompt}
          onChange={(e) => set('systemPrompt', e.target.value)}
          data-testid="preset-system-prompt"
        />
        <small className="muted">{t('presets.systemPromptHint')}</small>
      </label>
      <fieldset className="field" style={{ ...full, border: 'none', padding: 0, margin: 0 }} data-testid="preset-knowledge">
        <span>{t('presets.knowledge')}</span>
        {baseOptions.length === 0 ? (
          <small className="muted">{t('presets.noKnowledge')}</small>
        ) : (
          <div style={{ display: 'flex', flexWrap: 'wrap', gap: '4px 16px' }}>
            <KnowledgeChecklist
              bases={baseOptions}
              checked={new Set(draft.kbIds)}
              tickTestId="preset-kb"
              onToggle={(kbId, on) => set('kbIds', on ? [...draft.kbIds, kbId] : draft.kbIds.filter((id) => id !== kbId))}
            />
          </div>
        )}
        <small className="muted">{t('presets.knowledgeHint')}</small>
      </fieldset>
      <GroupShareField
        label={t('presets.shareWith')}
        emptyHint={t(anyGroup ? 'presets.noGroupsAtAll' : 'presets.noGroups')}
        groups={groups}
        value={draft.groupIds}
        onChange={(ids) => set('groupIds', ids)}
        testId="preset-groups"
        tickPrefix="preset-group"
      />
      {error && (
        <p className="form-error" role="alert" style={full} data-testid="preset-error">
          {error}
        </p>
      )}
      <div style={{ display: 'flex', gap: 8 }}>
        <button type="submit" className="button button-primary" disabled={busy || !draft.name.trim()} data-testid="preset-submit">
          {editing ? t('presets.save') : t('presets.create')}
        </button>
        {editing && (
          <button type="button" className="button button-quiet" onClick={onCancel} data-testid="preset-cancel">
            {t('presets.cancelEdit')}
          </button>
        )}
      </div>
    </form>
  );
}
