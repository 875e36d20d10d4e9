import type { ReactNode } from 'react';

/** A labelled form field with an optional hint under it; `wide` and `full` give it more of the form's grid. */
export function Field({ label, hint, wide, full, children }: { label: string; hint?: string; wide?: boolean; full?: boolean; children: ReactNode }) {
  return (
    <label className={`field${wide ? ' field-wide' : ''}${full ? ' field-full' : ''}`}>
      <span>{label}</span>
      {children}
      {hint && <small>{hint}</small>}
    </label>
  );
}
