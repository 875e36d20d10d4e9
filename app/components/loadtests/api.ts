'use client';

import type { Distribution } from '../../../server/evaluation/loadtest/stats';
import type { Summary } from '../../../server/evaluation/loadtest/summary';
import { trpc } from '../../lib/trpc';

// The summary's shape is the server's own (type-only imports are erased: no server code reaches the browser).
export type Dist = Distribution;
export interface Bucket {
  le: number;
  count: number;
}
export interface SummaryView extends Summary {
  stages?: { stage: number; kind: string; rate: number | null; concurrency: number | null; met: boolean | null; summary: SummaryView }[];
  timing?: { shards: number; loopDelayP50Ms: number; loopDelayP99Ms: number; loopDelayMaxMs: number; sendLagP50Ms: number | null; sendLagP99Ms: number | null };
}
export interface ProgressView {
  stage?: number;
  stageKind?: string;
  done?: number;
  failed?: number;
  total?: number;
  currentRate?: number;
  elapsedS?: number;
  ttftMs?: { p50: number; p90: number; p99: number } | null;
  itlMs?: { p50: number; p90: number; p99: number } | null;
  e2eMs?: { p50: number; p90: number; p99: number } | null;
}
export interface RunView {
  id: string;
  name: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  model: string;
  targetUrl: string;
  spec: Record<string, unknown> & { mode?: string; objectives?: { ttftMs?: number; tpotMs?: number; e2eMs?: number } };
  progress: ProgressView;
  summary: SummaryView | null;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}
export interface ListRow {
  id: string;
  name: string;
  status: RunView['status'];
  model: string;
  targetUrl: string;
  mode: string;
  progress: ProgressView;
  headline: { completed: number; failed: number; requestThroughput: number; ttftMedianMs: number | null } | null;
  createdAt: string;
}
export type Metric = 'ttft' | 'itl' | 'tpot' | 'e2e';
export type HistogramSet = Record<Metric, Bucket[]>;
export interface CompareRun {
  id: string;
  name: string;
  model: string;
  status: string;
  summary: SummaryView | null;
  histograms: HistogramSet;
}

/** Infinity travels as null in JSON: the last bucket's bound comes back as Infinity here. */
const fixBuckets = (h: Record<string, unknown>): HistogramSet => {
  const out = {} as HistogramSet;
  for (const k of ['ttft', 'itl', 'tpot', 'e2e'] as const) out[k] = ((h[k] as { le: number | null; count: number }[]) ?? []).map((b) => ({ le: b.le ?? Infinity, count: b.count }));
  return out;
};

export type CreateInput = Parameters<typeof trpc.loadtests.create.mutate>[0];

export const loadtestsApi = {
  list: () => trpc.loadtests.list.query() as unknown as Promise<ListRow[]>,
  get: (id: string) => trpc.loadtests.get.query({ id }) as unknown as Promise<RunView>,
  histograms: async (id: string) => fixBuckets((await trpc.loadtests.histograms.query({ id })) as unknown as Record<string, unknown>),
  compare: async (ids: string[]) =>
    ((await trpc.loadtests.compare.query({ ids })) as unknown as (CompareRun & { histograms: Record<string, unknown> })[]).map((r) => ({ ...r, histograms: fixBuckets(r.histograms) })),
  create: (input: CreateInput) => trpc.loadtests.create.mutate(input),
  cancel: (id: string) => trpc.loadtests.cancel.mutate({ id }),
  deployments: () => trpc.deployments.list.query() as unknown as Promise<{ id: string; name: string; status: string }[]>,
};

export const ms = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 10 ? 2 : 1)} ms`);
export const num = (v: number | null | undefined, digits = 2) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits));
