'use client';

import { useState, type FormEvent } from 'react';
import { Field } from '../../components/field';
import { useI18n } from '../../i18n/provider';
import type { RouterOutputs } from '../../lib/trpc';

type Tool = RouterOutputs['tools']['list'][number];
type Group = RouterOutputs['groups']['list'][number];

/** What the form hands back: the schema as text (the server parses and checks it), the secret only when typed. */
export interface ToolFormValues {
  name: string;
  description: string;
  schemaText: string;
  isOpenApi: boolean;
  endpoint: string;
  secret: string;
  timeoutMs: number;
  maxResponseBytes: number;
  enabled: boolean;
  groupIds: string[];
}

const EXAMPLE = JSON.stringify({ type: 'object', properties: { city: { type: 'string', description: 'City name' } }, required: ['city'] }, null, 2);

export function valuesOf(tool: Tool | null): ToolFormValues {
  return {
    name: tool?.name ?? '',
    description: tool?.description ?? '',
    schemaText: tool ? JSON.stringify(tool.parameters, null, 2) : EXAMPLE,
    isOpenApi: false,
    endpoint: tool?.endpoint ?? '',
    secret: '',
    timeoutMs: tool?.timeoutMs ?? 10_000,
    maxResponseBytes: tool?.maxResponseBytes ?? 65_536,
    enabled: tool?.enabled ?? true,
    groupIds: tool?.groupIds ?? [],
  };
}

/** Create or edit one tool: the JSON schema in a textarea, the endpoint, the write-only secret, limits, groups. */
export function ToolForm({ tool, groups, busy, onSave, onCancel }: { tool: Tool | null; groups: Group[]; busy: boolean; onSave(values: ToolFormValues): void; onCancel(): void }) {
  const { t } = useI18n();
  const [v, setV] = useState(() => valuesOf(tool));
  const set = (patch: Partial<ToolFormValues>) => setV((old) => ({ ...old, ...patch }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSave(v);
  };
  return (
    <form className="card inline-form" onSubmit={submit} data-testid="tool-form">
      <h2>{tool ? t('tools.edit', { name: tool.name }) : t('tools.new')}</h2>
      <Field label={t('tools.name')} hint={t('tools.nameHint')}>
        <input required pattern="[a-zA-Z0-9_\-]{1,64}" value={v.name} onChange={(e) => set({ name: e.target.value })} data-testid="tool-name" />
      </Field>
      <Field label={t('tools.description')} hint={t('tools.descriptionHint')} wide>
        <input value={v.description} maxLength={1024} onChange={(e) => set({ description: e.target.value })} data-testid="tool-description" />
      </Field>
      <Field label={t('tools.parameters')} hint={t('tools.parametersHint')} full>
        <textarea rows={8} required spellCheck={false} className="mono" value={v.schemaText} onChange={(e) => set({ schemaText: e.target.value })} data-testid="tool-parameters" />
      </Field>
      <label className="checkbox">
        <input type="checkbox" checked={v.isOpenApi} onChange={(e) => set({ isOpenApi: e.target.checked })} data-testid="tool-openapi" /> {t('tools.openapi')}
      </label>
      <Field label={t('tools.endpoint')} wide>
        <input required type="url" value={v.endpoint} onChange={(e) => set({ endpoint: e.target.value })} data-testid="tool-endpoint" />
      </Field>
      <Field label={t('tools.secret')} hint={tool ? t('tools.secretKeep') : t('tools.secretHint')}>
        <input type="password" autoComplete="new-password" required={!tool} minLength={16} value={v.secret} onChange={(e) => set({ secret: e.target.value })} data-testid="tool-secret" />
      </Field>
      <Field label={t('tools.timeout')}>
        <input type="number" min={100} max={120000} value={v.timeoutMs} onChange={(e) => set({ timeoutMs: Number(e.target.value) })} data-testid="tool-timeout" />
      </Field>
      <Field label={t('tools.maxBytes')}>
        <input type="number" min={256} max={1048576} value={v.maxResponseBytes} onChange={(e) => set({ maxResponseBytes: Number(e.target.value) })} data-testid="tool-max-bytes" />
      </Field>
      <label className="checkbox">
        <input type="checkbox" checked={v.enabled} onChange={(e) => set({ enabled: e.target.checked })} data-testid="tool-enabled" /> {t('tools.enabled')}
      </label>
      <fieldset className="field field-full">
        <legend>{t('tools.groups')}</legend>
        {groups.length === 0 && <small>{t('tools.noGroups')}</small>}
        {groups.map((g) => (
          <label key={g.id} className="checkbox">
            <input
              type="checkbox"
              checked={v.groupIds.includes(g.id)}
              onChange={(e) => set({ groupIds: e.target.checked ? [...v.groupIds, g.id] : v.groupIds.filter((id) => id !== g.id) })}
              data-testid={`tool-group-${g.name}`}
            />{' '}
            {g.name}
          </label>
        ))}
      </fieldset>
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={busy} data-testid="tool-save">
          {t('tools.save')}
        </button>
        <button type="button" className="button" onClick={onCancel}>
          {t('tools.cancel')}
        </button>
      </div>
    </form>
  );
}
