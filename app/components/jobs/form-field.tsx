'use client';

import type { ReactNode } from 'react';
import { readableError } from '../../lib/errors';
import { isTRPCError } from '../../lib/trpc';
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

/** A refused submit as errors by field: the raw message keeps zod's paths, which readableError would flatten. */
export function submitErrors(err: unknown, fields: readonly string[], t: (key: MessageKey) => string): FieldErrors {
  if (isTRPCError(err) && err.message) return serverFieldErrors(err.message, fields);
  return { '': readableError(err, t) };
}
