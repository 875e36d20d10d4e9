import { quantile } from '../../core/quantile';
import { bootstrapMedianDiff } from '../stats/bootstrap';
import { mannWhitneyU } from '../stats/mann-whitney';
import { twoProportionTest } from '../stats/proportions';
import { sampleSizeShift, sampleSizeTwoProportions } from '../stats/sample-size';
import type { VariantStats } from './variant-stats';

export const ALPHA = 0.05;
/** The smallest differences worth acting on: what "too early" is measured against. */
export const DETECTABLE = { latencyShare: 0.1, errorRatePoints: 0.02, thumbsUpPoints: 0.1 } as const;

export type Finding = 'better' | 'worse' | 'no_difference' | 'too_early';

export interface LatencyComparison {
  metric: 'e2e' | 'ttft';
  n: [number, number];
  u: number;
  p: number;
  method: 'exact' | 'normal';
  /** median(candidate) − median(baseline), ms, with its 95% bootstrap interval. */
  medianDiff: number;
  low: number;
  high: number;
  finding: Finding;
  /** Requests per variant still needed to see a DETECTABLE.latencyShare shift, when too early. */
  moreNeeded: number;
}

export interface ProportionComparison {
  metric: 'errors' | 'thumbs';
  n: [number, number];
  rates: [number, number];
  diff: number;
  low: number;
  high: number;
  z: number;
  p: number;
  finding: Finding;
  moreNeeded: number;
}

export interface Comparison {
  variantId: string;
  latency: LatencyComparison[];
  errors: ProportionComparison | null;
  thumbs: ProportionComparison | null;
  /** One line for people: the overall call for this variant against the baseline. */
  overall: Finding;
}

function finding(p: number, lowerIsBetter: boolean, diff: number, have: number, need: number): Finding {
  if (p < ALPHA) return (diff < 0) === lowerIsBetter ? 'better' : 'worse';
  return have < need ? 'too_early' : 'no_difference';
}

export function compareLatency(metric: 'e2e' | 'ttft', base: number[], cand: number[]): LatencyComparison | null {
  if (base.length < 2 || cand.length < 2) return null;
  const mw = mannWhitneyU(cand, base);
  const ci = bootstrapMedianDiff(cand, base, { rounds: 1000, seed: 20260101 });
  const sortedBase = [...base].sort((a, b) => a - b);
  const all = [...base, ...cand];
  const mean = all.reduce((s, v) => s + v, 0) / all.length;
  const sd = Math.sqrt(all.reduce((s, v) => s + (v - mean) ** 2, 0) / (all.length - 1));
  const need = sampleSizeShift(DETECTABLE.latencyShare * quantile(sortedBase, 0.5), sd, ALPHA);
  const have = Math.min(base.length, cand.length);
  const f = finding(mw.p, true, ci.estimate, have, need);
  return {
    metric,
    n: [base.length, cand.length],
    u: mw.u1,
    p: mw.p,
    method: mw.method,
    medianDiff: ci.estimate,
    low: ci.low,
    high: ci.high,
    finding: f,
    moreNeeded: f === 'too_early' ? need - have : 0,
  };
}

export function compareProportions(metric: 'errors' | 'thumbs', base: [number, number], cand: [number, number]): ProportionComparison | null {
  const [xb, nb] = base;
  const [xc, nc] = cand;
  if (nb === 0 || nc === 0) return null;
  const t = twoProportionTest(xc, nc, xb, nb);
  // Error rates near 0 need an effect in points, not a ratio, or the sample size runs away.
  const shift = metric === 'errors' ? DETECTABLE.errorRatePoints : DETECTABLE.thumbsUpPoints;
  const p0 = t.p2;
  const p1 = p0 + shift <= 1 ? p0 + shift : p0 - shift;
  const need = sampleSizeTwoProportions(p0, p1, ALPHA);
  const have = Math.min(nb, nc);
  const f = finding(t.p, metric === 'errors', t.diff, have, need);
  return { metric, n: [nb, nc], rates: [t.p2, t.p1], diff: t.diff, low: t.low, high: t.high, z: t.z, p: t.p, finding: f, moreNeeded: f === 'too_early' ? need - have : 0 };
}

/**
 * Every variant against the baseline (the first by label). Worse on anything loses; better on latency,
 * errors or feedback without being worse anywhere wins; otherwise "too early" while any test is short of
 * its sample size, else "no difference".
 */
export function verdict(stats: VariantStats[], samples: Map<string, { e2e: number[]; ttft: number[] }>): Comparison[] {
  const [baseline, ...others] = stats;
  if (!baseline) return [];
  const bs = samples.get(baseline.variantId) ?? { e2e: [], ttft: [] };
  return others.map((s) => {
    const cs = samples.get(s.variantId) ?? { e2e: [], ttft: [] };
    const latency = [compareLatency('e2e', bs.e2e, cs.e2e), compareLatency('ttft', bs.ttft, cs.ttft)].filter((c): c is LatencyComparison => c !== null);
    const errors = compareProportions('errors', [baseline.errors, baseline.requests], [s.errors, s.requests]);
    const thumbs = compareProportions('thumbs', [baseline.thumbsUp, baseline.thumbsUp + baseline.thumbsDown], [s.thumbsUp, s.thumbsUp + s.thumbsDown]);
    const findings = [...latency.map((l) => l.finding), errors?.finding, thumbs?.finding].filter((f): f is Finding => f !== undefined);
    const overall: Finding = findings.includes('worse')
      ? 'worse'
      : findings.includes('better')
        ? 'better'
        : findings.length === 0 || findings.includes('too_early')
          ? 'too_early'
          : 'no_difference';
    return { variantId: s.variantId, latency, errors, thumbs, overall };
  });
}
