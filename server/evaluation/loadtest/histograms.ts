import { E2E_BUCKETS, ITL_BUCKETS, TTFT_BUCKETS } from '../../core/metrics';

export interface Buckets {
  /** Upper bounds in ms, ascending; the last is Infinity (JSON: null, see toJsonBuckets). */
  buckets: { le: number; count: number }[];
}

// vLLM's own bucket bounds (seconds) in ms, so a load test reads like the engine's /metrics histograms.
// TPOT shares the ITL bounds, as vLLM's time_per_output_token histogram does.
const ms = (b: number[]) => b.map((s) => Math.round(s * 1e6) / 1e3);
export const BUCKETS_MS = { ttft: ms(TTFT_BUCKETS), itl: ms(ITL_BUCKETS), tpot: ms(ITL_BUCKETS), e2e: ms(E2E_BUCKETS) } as const;
export type Metric = keyof typeof BUCKETS_MS;

/** Counts per bucket (not cumulative): count of values v with previous bound < v <= le. */
export function bucketize(values: Iterable<number>, bounds: readonly number[]): { le: number; count: number }[] {
  const counts = new Array<number>(bounds.length + 1).fill(0);
  for (const v of values) {
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (v <= bounds[mid]!) hi = mid;
      else lo = mid + 1;
    }
    counts[lo]!++;
  }
  return [...bounds, Infinity].map((le, i) => ({ le, count: counts[i]! }));
}
