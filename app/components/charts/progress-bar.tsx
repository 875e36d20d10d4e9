'use client';

import './charts.css';

/** A labelled progress bar; `value` is 0..1 and is clamped, `detail` is e.g. "120 / 400 steps · ETA 3 min". */
export function ProgressBar({ value, label, detail, testId }: { value: number; label: string; detail?: string; testId?: string }) {
  const pct = Math.round(Math.min(1, Math.max(0, Number.isFinite(value) ? value : 0)) * 1000) / 10;
  return (
    <div className="progress" data-testid={testId} data-value={pct}>
      <div className="progress-head">
        <span>{label}</span>
        <span className="muted">{detail ?? `${pct}%`}</span>
      </div>
      <div className="progress-track" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
        <span style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}
