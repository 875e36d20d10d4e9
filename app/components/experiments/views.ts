import type { RouterInputs, RouterOutputs } from '../../lib/trpc';

/** What the experiment and latency pages draw, as the experiments router answers it. */
export type ExperimentView = RouterOutputs['experiments']['list'][number];
export type ExperimentReport = RouterOutputs['experiments']['get'];
export type VariantStatsView = ExperimentReport['stats'][number];
export type ComparisonView = ExperimentReport['comparisons'][number];
export type LatencyView = RouterOutputs['experiments']['latency'];
export type LatencyOptions = RouterOutputs['experiments']['latencyOptions'];
export type LatencyInput = RouterInputs['experiments']['latency'];
export type CreateExperimentInput = RouterInputs['experiments']['create'];

/** "12.3 ms", "1.25 s": latency as people read it. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (Math.abs(ms) >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 1 : 2)} s`;
  if (Math.abs(ms) >= 10) return `${ms.toFixed(0)} ms`;
  return `${ms.toFixed(Math.abs(ms) >= 1 ? 1 : 3)} ms`;
}

export function formatPercent(share: number | null | undefined, digits = 1): string {
  return share === null || share === undefined || !Number.isFinite(share) ? '—' : `${(share * 100).toFixed(digits)}%`;
}
