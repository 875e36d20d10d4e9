import type { JobView, MetricView } from './views';

/** How many of the latest step events the rate is measured over: recent enough to follow a slowdown, long enough to smooth jitter. */
const RATE_WINDOW = 20;

const ms = (at: Date) => at.getTime();

/**
 * Steps per second over the latest step events. Measured between events rather than from the job's
 * start, because a resumed job restored its first steps from a checkpoint in no time at all.
 */
export function stepRate(metrics: Pick<MetricView, 'kind' | 'step' | 'at'>[], window = RATE_WINDOW): number | null {
  const steps = metrics.filter((m) => m.kind === 'step' && Number.isFinite(ms(m.at))).sort((a, b) => a.step - b.step);
  const recent = steps.slice(-window);
  if (recent.length < 2) return null;
  const first = recent[0]!;
  const last = recent[recent.length - 1]!;
  const seconds = (ms(last.at) - ms(first.at)) / 1000;
  const done = last.step - first.step;
  if (seconds <= 0 || done <= 0) return null;
  return done / seconds;
}

/** Seconds left at `rate` steps per second; 0 when done, null when there is nothing to extrapolate from. */
export function etaSeconds(step: number | undefined, totalSteps: number | undefined, rate: number | null): number | null {
  if (step === undefined || totalSteps === undefined || !Number.isFinite(step) || !Number.isFinite(totalSteps) || totalSteps <= 0) return null;
  if (step >= totalSteps) return 0;
  if (rate === null || !(rate > 0)) return null;
  return (totalSteps - step) / rate;
}

/** Share done in 0..1: steps when the job reports them; finished jobs that succeeded are full. */
export function progressFraction(job: Pick<JobView, 'status' | 'progress'>): number {
  if (job.status === 'succeeded') return 1;
  const { step, totalSteps } = job.progress ?? {};
  if (typeof step !== 'number' || typeof totalSteps !== 'number' || totalSteps <= 0) return 0;
  return Math.max(0, Math.min(1, step / totalSteps));
}

/** How long the job ran (or has been running, or waiting when it never started), in seconds. */
export function jobSeconds(job: Pick<JobView, 'createdAt' | 'startedAt' | 'finishedAt'>, now = Date.now()): number | null {
  const from = ms(job.startedAt ?? job.createdAt);
  const to = job.finishedAt ? ms(job.finishedAt) : now;
  if (!Number.isFinite(from) || !Number.isFinite(to)) return null;
  return Math.max(0, (to - from) / 1000);
}

/** "1h 02m", "3m 05s", "12s": durations people read at a glance; '—' when unknown. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}
