import type { ReactNode } from 'react';

/**
 * The head of a detail page (deployment, experiment, job, GPU node): its name with badges as the
 * title, a line about it under (`children`), and on the right its actions. Where a page passes
 * `actions`, even as false for someone who may not act, the spacer stays, so the head keeps its layout.
 */
export function DetailHead({ title, wrap = false, actions, children }: { title: ReactNode; wrap?: boolean; actions?: ReactNode; children: ReactNode }) {
  return (
    <div className="page-head">
      <div>
        <h1 style={{ display: 'flex', alignItems: 'center', gap: 10, ...(wrap ? { flexWrap: 'wrap' } : {}) }}>{title}</h1>
        {children}
      </div>
      {actions !== undefined && (
        <>
          <span className="spacer" />
          {actions}
        </>
      )}
    </div>
  );
}
