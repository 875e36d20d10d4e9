import { describe, expect, it } from 'vitest';
import { quantile } from '../../core/quantile';
import { bootstrapMedianDiff } from './bootstrap';
import { seededRandom } from '../../core/random';
import { mannWhitneyU } from './mann-whitney';
import { normalCdf, normalQuantile, twoSidedP } from './normal';
import { twoProportionTest } from './proportions';
import { sampleSizeShift, sampleSizeTwoProportions } from './sample-size';

describe('normal distribution', () => {
  it('matches tabulated values', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 8);
    expect(normalQuantile(0.8)).toBeCloseTo(0.8416212335729143, 8);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306167813, 7);
    expect(normalCdf(1.5922)).toBeCloseTo(0.9443301133774724, 6);
    expect(twoSidedP(1.959963984540054)).toBeCloseTo(0.05, 6);
  });
});

describe('Mann-Whitney U', () => {
  it('Wikipedia "tortoise and hare" example: finishing order THHHHHTTTTTH gives U = 11 and 25', () => {
    // Positions 1..12; lower = earlier finish. U counts pairs where the first sample is larger.
    const order = 'THHHHHTTTTTH';
    const tortoise = [...order].flatMap((c, i) => (c === 'T' ? [i] : []));
    const hare = [...order].flatMap((c, i) => (c === 'H' ? [i] : []));
    const r = mannWhitneyU(hare, tortoise);
    expect([r.u1, r.u2].sort((a, b) => a - b)).toEqual([11, 25]);
  });

  it('Hollander & Wolfe (1973) p. 69, permeability of the chorioamnion: W = 35, exact two-sided p = 0.2544', () => {
    // The example of R's ?wilcox.test: wilcox.test(x, y, alternative = "g") gives W = 35, p-value = 0.1272.
    const x = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
    const y = [1.15, 0.88, 0.9, 0.74, 1.21];
    const r = mannWhitneyU(x, y);
    expect(r.u1).toBe(35);
    expect(r.method).toBe('exact');
    expect(r.p).toBeCloseTo(0.2544122544122544, 10);
  });

  it('Conover\'s males/females example (scipy docs): U = 17, exact p = 0.1111, normal approximation p = 0.11135', () => {
    const males = [19, 22, 16, 29, 24];
    const females = [20, 11, 17, 12];
    expect(mannWhitneyU(males, females)).toMatchObject({ u1: 17, method: 'exact' });
    expect(mannWhitneyU(males, females).p).toBeCloseTo(1 / 9, 10);
    // With one tie added the normal approximation (tie and continuity corrected) is used.
    const tied = mannWhitneyU([1, 2, 2, 3, 3, 3, 4, 5], [3, 4, 4, 5, 5, 6, 7, 7, 8]);
    // scipy.stats.mannwhitneyu(..., method='asymptotic') -> statistic 7.5, pvalue 0.006373133838085873
    expect(tied.method).toBe('normal');
    expect(tied.u1).toBe(7.5);
    expect(tied.p).toBeCloseTo(0.006373133838085873, 6);
  });

  it('large samples use the normal approximation and see a real shift', () => {
    const rnd = seededRandom(7);
    const a = Array.from({ length: 300 }, () => 100 + rnd() * 50);
    const b = Array.from({ length: 300 }, () => 110 + rnd() * 50);
    const r = mannWhitneyU(a, b);
    expect(r.method).toBe('normal');
    expect(r.p).toBeLessThan(1e-6);
    expect(r.effect).toBeLessThan(0.5);
    expect(mannWhitneyU([5, 5, 5], [5, 5, 5]).p).toBe(1);
    expect(() => mannWhitneyU([], [1])).toThrow(RangeError);
  });
});

describe('two-proportion test', () => {
  it('Agresti, Categorical Data Analysis, Physicians\' Health Study: X² = 25.01 (z = 5.00), p ≈ 5.7e-7', () => {
    // Myocardial infarction: placebo 189 of 11034, aspirin 104 of 11037.
    const r = twoProportionTest(189, 11034, 104, 11037);
    expect(r.z * r.z).toBeCloseTo(25.013883967194165, 6);
    expect(r.p).toBeCloseTo(5.691896973740789e-7, 9);
    expect(r.p / 5.691896973740789e-7).toBeCloseTo(1, 4);
    expect(r.low).toBeLessThan(r.diff);
    expect(r.high).toBeGreaterThan(r.diff);
  });
  it('refuses impossible counts and treats identical all-or-nothing groups as no evidence', () => {
    expect(() => twoProportionTest(5, 4, 1, 10)).toThrow(RangeError);
    expect(twoProportionTest(0, 10, 0, 10).p).toBe(1);
  });
});

describe('sample size', () => {
  it('Chow, Shao & Wang §4.2: p = 0.65 vs 0.85, α = 0.05, power 0.8 → 70 per group', () => {
    expect(sampleSizeTwoProportions(0.65, 0.85)).toBe(70);
    expect(sampleSizeTwoProportions(0.5, 0.5)).toBe(Number.POSITIVE_INFINITY);
  });
  it('t-test size for a one-σ shift is 16 per group; the rank test asks for 1/0.864 of it', () => {
    // 2 · (1.96 + 0.8416)² = 15.7 → 16 for the t-test (Lehr's rule: 16/Δ²).
    expect(sampleSizeShift(1, 1)).toBe(Math.ceil(15.6978 / 0.864));
    expect(sampleSizeShift(0, 1)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('bootstrap interval of the median difference', () => {
  it('is reproducible for a seed and covers a known shift', () => {
    const rnd = seededRandom(3);
    const a = Array.from({ length: 200 }, () => 50 + rnd() * 20);
    const b = a.map((v) => v - 10);
    const one = bootstrapMedianDiff(a, b, { seed: 42 });
    expect(bootstrapMedianDiff(a, b, { seed: 42 })).toEqual(one);
    expect(one.estimate).toBeCloseTo(10, 10);
    expect(one.low).toBeLessThanOrEqual(10);
    expect(one.high).toBeGreaterThanOrEqual(10);
    expect(one.high - one.low).toBeLessThan(6);
  });
  it('quantile interpolates like percentile_cont', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10, 20, 30, 40, 50], 0.95)).toBeCloseTo(48, 10);
  });
});
