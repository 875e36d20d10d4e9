'use client';

import { ProgressBar } from '../charts/progress-bar';
import { useI18n } from '../../i18n/provider';
import { etaSeconds, formatDuration, jobSeconds, progressFraction, stepRate } from './progress';
import type { JobView, MetricView } from './views';

const num = (v: unknown, digits: number) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '—');

/** Progress with an ETA from the recent step rate, and the figures a person watches while it trains. */
export function ProgressCard({ job, metrics }: { job: JobView; metrics: MetricView[] }) {
  const { t } = useI18n();
  const p = job.progress ?? {};
  const running = job.status === 'running';
  // The recent step rate follows slowdowns; the server's own estimate covers the first steps before there is a rate.
  const serverEta = typeof (p as { etaSeconds?: unknown }).etaSeconds === 'number' ? (p as { etaSeconds: number }).etaSeconds : null;
  const eta = running ? (etaSeconds(p.step, p.totalSteps, stepRate(metrics)) ?? serverEta) : null;
  const detail = [
    typeof p.step === 'number' && typeof p.totalSteps === 'number' ? t('jobs.steps', { step: p.step, total: p.totalSteps }) : null,
    eta !== null ? t('jobs.eta', { eta: formatDuration(eta) }) : null,
  ]
    .filter(Boolean)
    .join(' · ');
  const lr = typeof p.learningRate !== 'number' ? '—' : p.learningRate === 0 ? '0' : p.learningRate.toExponential(2);
  return (
    <section className="card job-card">
      <ProgressBar value={progressFraction(job)} label={p.stage ? t('jobs.stage', { stage: p.stage }) : t('jobs.progress')} detail={detail || undefined} testId="job-progress" />
      <div className="job-stats">
        <div className="job-stat">
          <span>{t('jobs.duration')}</span>
          <b data-testid="job-duration">{formatDuration(jobSeconds(job))}</b>
        </div>
        {job.kind === 'finetune' && (
          <>
            <div className="job-stat">
              <span>{t('jobs.tokensPerSecond')}</span>
              <b data-testid="job-tokens-per-second">{num(p.tokensPerSecond, 0)}</b>
            </div>
            <div className="job-stat">
              <span>{t('jobs.epoch')}</span>
              <b>{num(p.epoch, 2)}</b>
            </div>
            <div className="job-stat">
              <span>{t('jobs.loss')}</span>
              <b>{num(p.loss, 4)}</b>
            </div>
            <div className="job-stat">
              <span>{t('jobs.learningRate')}</span>
              <b>{lr}</b>
            </div>
          </>
        )}
      </div>
    </section>
  );
}
