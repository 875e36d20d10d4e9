/**
 * The q-quantile (0 ≤ q ≤ 1) of an ascending array, interpolating linearly between closest ranks:
 * numpy's default (type 7), PostgreSQL's percentile_cont and vLLM's benchmark figures all agree on it.
 * NaN for no values.
 */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const position = (n - 1) * q;
  const lo = Math.floor(position);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (position - lo);
}
