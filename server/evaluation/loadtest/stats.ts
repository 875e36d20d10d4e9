import { quantile } from '../../core/quantile';
/** The distribution figures every metric is reported with (vLLM's benchmark reports the same). */
export interface Distribution {
  mean: number;
  median: number;
  p90: number;
  p95: number;
  p99: number;
}


/** Null when there are no values: "no data" must not read as zero latency. */
export function distribution(values: readonly number[]): Distribution | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    mean: sum / sorted.length,
    median: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p95: quantile(sorted, 0.95),
    p99: quantile(sorted, 0.99),
  };
}
