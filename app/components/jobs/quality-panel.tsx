'use client';

import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useI18n } from '../../i18n/provider';
import { readableError } from '../../lib/errors';
import { formatBytes } from '../fleet/format';
import { useToast } from '../toast';
import { GateBadge } from './job-status-badge';
import { serverFieldErrors } from './job-form';
import { useTRPC } from '../../lib/trpc';
import { formatDuration } from './progress';
import { readQuality, withinLimit } from './quality';
import type { JobView } from './views';

const pct = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}%`;

/** Two figures side by side as bars on one scale, so "before vs after" is seen, not computed. */
function CompareRows({ rows, format }: { rows: { label: string; value: number | null; className: string; testId: string }[]; format: (v: number) => string }) {
  const max = Math.max(0, ...rows.map((r) => r.value ?? 0));
  return (
    <div className="compare-rows">
      {rows.map((r) => (
        <div className="compare-row" key={r.label} data-testid={r.testId} data-value={r.value ?? ''}>
          <span className="muted">{r.label}</span>
          <span className="bar">{r.value !== null && max > 0 && <span className={r.className} style={{ width: `${(r.value / max) * 100}%` }} />}</span>
          <b>{r.value === null ? '—' : format(r.value)}</b>
        </div>
      ))}
    </div>
  );
}

/** The perplexity change as a bar against the limit line: green inside it, red past it. */
function DeltaGauge({ deltaPct, limitPct }: { deltaPct: number; limitPct: number | null }) {
  const { t } = useI18n();
  const scale = Math.max(Math.abs(deltaPct), limitPct ?? 0, 0.5) * 1.35;
  const ok = withinLimit({ deltaPct, limitPct }) !== false;
  return (
    <div>
      <div className="delta-head">
        <span className="muted">{t('jobs.perplexityDelta')}</span>
        <b data-testid="perplexity-delta" data-value={deltaPct}>
          {pct(deltaPct)}
        </b>
      </div>
      <div className="delta-gauge" role="img" aria-label={`${t('jobs.perplexityDelta')} ${pct(deltaPct)}${limitPct !== null ? `, ${t('jobs.limit', { limit: pct(limitPct) })}` : ''}`}>
        <span className={`fill ${ok ? 'fill-ok' : 'fill-over'}`} style={{ width: `${(Math.max(0, deltaPct) / scale) * 100}%`, minWidth: 3 }} />
        {limitPct !== null && (
          <>
            <span className="limit" style={{ left: `${(limitPct / scale) * 100}%` }} />
            {/* Anchored by its near end when the line sits close to an edge, so the label never leaves the card. */}
            <span className="limit-label" style={{ left: `${(limitPct / scale) * 100}%`, transform: limitPct / scale < 0.15 ? 'translateX(-4px)' : limitPct / scale > 0.85 ? 'translateX(calc(-100% + 4px))' : undefined }}>
              {t('jobs.limit', { limit: pct(limitPct) })}
            </span>
          </>
        )}
      </div>
      <div style={{ height: 18 }} />
    </div>
  );
}

/** What quantization cost: size, time, perplexity before/after against the limit, and the gate with its override. */
export function QualityPanel({ job, canManage, onChanged }: { job: JobView; canManage: boolean; onChanged(): void }) {
  const { t } = useI18n();
  const toast = useToast();
  const q = readQuality(job.result, job.spec);
  const [reason, setReason] = useState('');
  const [problem, setProblem] = useState('');
  const trpc = useTRPC();
  const overrideGate = useMutation(trpc.jobs.overrideGate.mutationOptions());
  const busy = overrideGate.isPending;

  async function override(event: FormEvent) {
    event.preventDefault();
    if (!reason.trim()) return setProblem(t('jobs.overrideReasonRequired'));
    try {
      await overrideGate.mutateAsync({ id: job.id, reason: reason.trim() });
      toast.show(t('jobs.overrideDone'));
      setReason('');
      setProblem('');
      onChanged();
    } catch (err) {
      // The server says how long a reason must be: show it under the box it is about.
      const text = readableError(err, t);
      setProblem(serverFieldErrors(text, ['reason']).reason ?? text);
    }
  }

  const measured = q.perplexityBefore !== null || q.sizeAfterBytes !== null || q.deltaPct !== null;
  return (
    <section className="card job-card" data-testid="quality-panel">
      <h2>
        {t('jobs.quality')} <GateBadge gate={job.gateStatus} />
      </h2>
      {!measured ? (
        <p className="muted" style={{ margin: 0 }}>{t('jobs.qualityPending')}</p>
      ) : (
        <>
          {q.deltaPct !== null && <DeltaGauge deltaPct={q.deltaPct} limitPct={q.limitPct} />}
          <CompareRows
            format={(v) => v.toFixed(3)}
            rows={[
              { label: t('jobs.perplexityBefore'), value: q.perplexityBefore, className: 'bar-before', testId: 'perplexity-before' },
              { label: t('jobs.perplexityAfter'), value: q.perplexityAfter, className: 'bar-after', testId: 'perplexity-after' },
            ]}
          />
          <CompareRows
            format={formatBytes}
            rows={[
              { label: t('jobs.sizeBefore'), value: q.sizeBeforeBytes, className: 'bar-before', testId: 'size-before' },
              { label: t('jobs.sizeAfter'), value: q.sizeAfterBytes, className: 'bar-after', testId: 'size-after' },
            ]}
          />
          {(q.speedBefore !== null || q.speedAfter !== null) && (
            <CompareRows
              format={(v) => `${v.toFixed(0)} tok/s`}
              rows={[
                { label: t('jobs.speedBefore'), value: q.speedBefore, className: 'bar-before', testId: 'speed-before' },
                { label: t('jobs.speedAfter'), value: q.speedAfter, className: 'bar-after', testId: 'speed-after' },
              ]}
            />
          )}
          {q.seconds !== null && (
            <dl className="kv">
              <dt>{t('jobs.seconds')}</dt>
              <dd data-testid="quantize-seconds">{q.seconds < 10 ? `${q.seconds.toFixed(2)}s` : formatDuration(q.seconds)}</dd>
            </dl>
          )}
        </>
      )}
      {job.gateStatus === 'overridden' && job.gateOverrideReason && <p className="muted" style={{ margin: 0 }}>{t('jobs.overriddenBecause', { reason: job.gateOverrideReason })}</p>}
      {job.gateStatus === 'blocked' && (
        <>
          <p className="job-waiting" style={{ margin: 0 }}>{t('jobs.promoteBlocked')}</p>
          {canManage && (
            <form className="override-form" onSubmit={override} data-testid="override-form">
              <label className="field">
                <span>{t('jobs.overrideReason')}</span>
                <textarea value={reason} maxLength={1000} onChange={(e) => (setReason(e.target.value), setProblem(''))} data-testid="override-reason" />
              </label>
              {problem && <span className="field-error" data-testid="override-error">{problem}</span>}
              <div>
                <button type="submit" className="button" disabled={busy} data-testid="override-submit">
                  {t('jobs.override')}
                </button>
              </div>
            </form>
          )}
        </>
      )}
    </section>
  );
}
