import { twoSidedP } from './normal';

export interface TwoProportionResult {
  p1: number;
  p2: number;
  /** p1 − p2. */
  diff: number;
  z: number;
  /** Two-sided p-value of the pooled z test. */
  p: number;
  /** 95% Wald interval of the difference. */
  low: number;
  high: number;
}

/**
 * The two-proportion z test with the pooled standard error (no continuity correction), as in
 * R's prop.test(correct = FALSE), whose χ² statistic is this z squared.
 */
export function twoProportionTest(x1: number, n1: number, x2: number, n2: number): TwoProportionResult {
  if (n1 <= 0 || n2 <= 0) throw new RangeError('both groups need at least one trial');
  if (x1 < 0 || x2 < 0 || x1 > n1 || x2 > n2) throw new RangeError('successes must be between 0 and the trials');
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const z = se === 0 ? 0 : (p1 - p2) / se;
  const wald = 1.959963984540054 * Math.sqrt((p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2);
  return { p1, p2, diff: p1 - p2, z, p: se === 0 ? 1 : twoSidedP(z), low: p1 - p2 - wald, high: p1 - p2 + wald };
}
