'use client';

import { trpc, type RouterOutputs } from '../../lib/trpc';

/** Dates travel as ISO strings (no transformer on the tRPC link), so the views say so. */
type Dated<T> = { [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K] };

export type ExperimentView = Dated<Omit<RouterOutputs['experiments']['list'][number], 'variants'>> & {
  variants: RouterOutputs['experiments']['list'][number]['variants'];
};
type Report = RouterOutputs['experiments']['get'];
export type ExperimentReport = Omit<Report, 'experiment'> & { experiment: ExperimentView };
export type VariantStatsView = Report['stats'][number];
export type ComparisonView = Report['comparisons'][number];
export type LatencyView = RouterOutputs['experiments']['latency'];
export type LatencyOptions = RouterOutputs['experiments']['latencyOptions'];
export type LatencyInput = Parameters<typeof trpc.experiments.latency.query>[0];
export type CreateExperimentInput = Parameters<typeof trpc.experiments.create.mutate>[0];

/** The experiment and latency pages' calls, in one place. */
export const experimentsApi = {
  list: () => trpc.experiments.list.query() as unknown as Promise<ExperimentView[]>,
  report: (id: string, hours?: number) => trpc.experiments.get.query({ id, hours }) as unknown as Promise<ExperimentReport>,
  create: (input: CreateExperimentInput) => trpc.experiments.create.mutate(input),
  start: (id: string) => trpc.experiments.start.mutate({ id }),
  stop: (id: string) => trpc.experiments.stop.mutate({ id }),
  promote: (id: string, variantId: string) => trpc.experiments.promote.mutate({ id, variantId }),
  feedback: (messageId: string, rating: 1 | -1 | 0) => trpc.experiments.feedback.mutate({ messageId, rating }),
  latency: (input: LatencyInput) => trpc.experiments.latency.query(input),
  latencyOptions: () => trpc.experiments.latencyOptions.query(),
};

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
