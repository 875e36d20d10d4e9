'use client';

import { useState, type FormEvent } from 'react';
import { useI18n } from '../../i18n/provider';

export interface Filter {
  actor?: string;
  action?: string;
  target?: string;
  outcome?: 'success' | 'failure' | 'denied';
  from?: string;
  to?: string;
}

/** The filters as a query string (for the export link): empty ones left out. */
export function filterQuery(f: Filter & { format?: string }): string {
  return new URLSearchParams(Object.entries(f).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '')).toString();
}

/** A datetime-local value (the browser's local time) as ISO, or undefined when empty. */
const iso = (local: string) => (local ? new Date(local).toISOString() : undefined);
/** The end of the picked minute: "to 12:05" includes what happened at 12:05:30 (it did not). */
const isoEndOfMinute = (local: string) => (local ? new Date(new Date(local).getTime() + 59_999).toISOString() : undefined);

/** The audit page's filter form; applied on submit, so typing does not read (and audit) a page per key. */
export function AuditFilters({ value, onApply }: { value: Filter; onApply: (f: Filter, e?: FormEvent) => void }) {
  const { t } = useI18n();
  const [draft, setDraft] = useState({ actor: value.actor ?? '', action: value.action ?? '', target: value.target ?? '', outcome: value.outcome ?? '', from: '', to: '' });
  const set = (k: keyof typeof draft) => (e: { target: { value: string } }) => setDraft({ ...draft, [k]: e.target.value });
  const apply = (e: FormEvent) => {
    const f: Filter = {
      actor: draft.actor.trim() || undefined,
      action: draft.action.trim() || undefined,
      target: draft.target.trim() || undefined,
      outcome: (draft.outcome || undefined) as Filter['outcome'],
      from: iso(draft.from),
      to: isoEndOfMinute(draft.to),
    };
    onApply(Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as Filter, e);
  };
  return (
    <form className="card latency-controls audit-filters" onSubmit={apply} data-testid="audit-filters" aria-label={t('audit.filters')}>
      <label className="field">
        <span>{t('audit.filter.actor')}</span>
        <input value={draft.actor} onChange={set('actor')} data-testid="audit-filter-actor" />
      </label>
      <label className="field">
        <span>{t('audit.filter.action')}</span>
        <input value={draft.action} onChange={set('action')} data-testid="audit-filter-action" />
      </label>
      <label className="field">
        <span>{t('audit.filter.target')}</span>
        <input value={draft.target} onChange={set('target')} data-testid="audit-filter-target" />
      </label>
      <label className="field">
        <span>{t('audit.filter.outcome')}</span>
        <select value={draft.outcome} onChange={set('outcome')} data-testid="audit-filter-outcome">
          <option value="">{t('audit.filter.any')}</option>
          <option value="success">success</option>
          <option value="failure">failure</option>
          <option value="denied">denied</option>
        </select>
      </label>
      <label className="field">
        <span>{t('audit.filter.from')}</span>
        <input type="datetime-local" value={draft.from} onChange={set('from')} data-testid="audit-filter-from" />
      </label>
      <label className="field">
        <span>{t('audit.filter.to')}</span>
        <input type="datetime-local" value={draft.to} onChange={set('to')} data-testid="audit-filter-to" />
      </label>
      <button type="submit" className="button button-primary" data-testid="audit-filter-apply">
        {t('audit.filter.apply')}
      </button>
      <button
        type="button"
        className="button"
        onClick={() => {
          setDraft({ actor: '', action: '', target: '', outcome: '', from: '', to: '' });
          onApply({});
        }}
      >
        {t('audit.filter.clear')}
      </button>
    </form>
  );
}
