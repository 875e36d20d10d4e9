import { normalQuantile } from './normal';

/**
 * Per-arm sample size to detect p1 vs p2 with a two-sided test at `alpha` and `power`:
 * n = (z₁₋α/₂ + z₁₋β)² · (p1(1−p1) + p2(1−p2)) / (p1 − p2)² (Chow, Shao & Wang, Sample Size
 * Calculations in Clinical Research, §4.2), rounded up.
 */
export function sampleSizeTwoProportions(p1: number, p2: number, alpha = 0.05, power = 0.8): number {
  if (p1 === p2) return Number.POSITIVE_INFINITY;
  const z = normalQuantile(1 - alpha / 2) + normalQuantile(power);
  return Math.ceil((z * z * (p1 * (1 - p1) + p2 * (1 - p2))) / ((p1 - p2) * (p1 - p2)));
}

/**
 * Per-arm sample size for a rank test to detect a shift `delta` in a quantity with standard deviation
 * `sd`: the two-sample t-test size 2σ²(z₁₋α/₂ + z₁₋β)²/δ² divided by 0.864, the smallest asymptotic
 * relative efficiency of Mann-Whitney against t (Hodges & Lehmann 1956), so the answer is never short.
 */
export function sampleSizeShift(delta: number, sd: number, alpha = 0.05, power = 0.8): number {
  if (!(delta > 0) || !(sd > 0)) return Number.POSITIVE_INFINITY;
  const z = normalQuantile(1 - alpha / 2) + normalQuantile(power);
  return Math.ceil((2 * sd * sd * z * z) / (delta * delta) / 0.864);
}
