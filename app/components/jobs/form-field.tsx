'use client';

import type { ReactNode } from 'react';
import { readableError } from '../../lib/errors';
import { isTRPCError } from '../../lib/trpc';
import { useI18n } from '../../i18n/provider';
import type { MessageKey } from '../../i18n/en';
import { serverFieldErrors, type FieldErrors } from './job-form';

/** A labelled field with its error right under it (the field turns red), or its hint when all is well. */
export function FormField({ label, error, hint, wide, children, name }: { label: string; error?: string; hint?: string; wide?: boolean; name: string; children: ReactNode }) {
  return (
    <label className={`field${wide ? ' field-wide' : ''}${error ? ' invalid' : ''}`} data-field={name}>
      <span>{label}</span>
      {children}
      {error ? (
        <small className="field-error" data-testid={`error-${name}`}>
          {error}
        </small>
      ) : (
        hint && <small>{hint}</small>
      )}
    </label>
  );
}

/** The model version a job starts from; none is chosen at first. */
export function VersionSelect({ versions, value, onChange, testId }: { versions: readonly { id: string; label: string }[]; value: string; onChange(id: string): void; testId: string }) {
  const { t } = useI18n();
  return (
    <select value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
      <option value="">{t('jobs.form.chooseVersion')}</option>
      {versions.map((v) => (
        <option key={v.id} value={v.id}>
          {v.label}
        </option>
      ))}
    </select>
  );
}

/** A refused submit as errors by field: the raw message keeps zod's paths, which readableError would flatten. */
export function submitErrors(err: unknown, fields: readonly string[], t: (key: MessageKey) => string): FieldErrors {
  if (isTRPCError(err) && err.message) return serverFieldErrors(err.message, fields);
  return { '': readableError(err, t) };
}
