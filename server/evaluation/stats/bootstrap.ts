import { quantile } from '../../core/quantile';
import { seededRandom } from '../../core/random';

export function median(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const m = n >> 1;
  return n % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}


function resampledMedian(values: readonly number[], random: () => number, scratch: number[]): number {
  const n = values.length;
  for (let i = 0; i < n; i++) scratch[i] = values[Math.floor(random() * n)]!;
  scratch.sort((x, y) => x - y);
  return median(scratch);
}

export interface BootstrapInterval {
  /** median(a) − median(b) on the data. */
  estimate: number;
  low: number;
  high: number;
  level: number;
}

/**
 * Percentile bootstrap interval for median(a) − median(b): resample each group with replacement
 * `rounds` times. Seeded, so the same data always gives the same interval.
 */
export function bootstrapMedianDiff(a: readonly number[], b: readonly number[], opts: { rounds?: number; level?: number; seed?: number } = {}): BootstrapInterval {
  if (a.length === 0 || b.length === 0) throw new RangeError('both samples need at least one value');
  const rounds = opts.rounds ?? 2000;
  const level = opts.level ?? 0.95;
  const random = seededRandom(opts.seed ?? 1);
  const sa = new Array<number>(a.length);
  const sb = new Array<number>(b.length);
  const diffs = new Array<number>(rounds);
  for (let r = 0; r < rounds; r++) diffs[r] = resampledMedian(a, random, sa) - resampledMedian(b, random, sb);
  diffs.sort((x, y) => x - y);
  const estimate = median([...a].sort((x, y) => x - y)) - median([...b].sort((x, y) => x - y));
  return { estimate, low: quantile(diffs, (1 - level) / 2), high: quantile(diffs, 1 - (1 - level) / 2), level };
}
