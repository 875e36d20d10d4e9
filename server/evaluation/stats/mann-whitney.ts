import { twoSidedP } from './normal';

export interface MannWhitneyResult {
  /** U of the first sample: pairs (a, b) with a > b, ties counting one half. */
  u1: number;
  u2: number;
  /** Normal approximation with tie correction and continuity correction (NaN when exact). */
  z: number;
  /** Two-sided p-value. */
  p: number;
  method: 'exact' | 'normal';
  /** Common-language effect size: P(a > b) + P(a = b) / 2. */
  effect: number;
}

/** Above this many pairs the normal approximation is used (the exact count costs O(n1·n2·min(n1, n2))). */
const EXACT_MAX_PAIRS = 400;

/**
 * The Mann-Whitney U test (Wilcoxon rank-sum), two-sided. Exact when there are no ties and both samples
 * are small; otherwise the normal approximation with the tie-corrected variance
 * σ² = n1·n2/12 · ((n + 1) − Σ(t³ − t) / (n(n − 1))) and a continuity correction of ½, as scipy and R do.
 */
export function mannWhitneyU(a: readonly number[], b: readonly number[]): MannWhitneyResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('both samples need at least one value');
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const n = n1 + n2;
  let rankSumA = 0;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && all[j + 1]!.v === all[i]!.v) j++;
    const rank = (i + j + 2) / 2; // mean of ranks i+1 .. j+1
    const t = j - i + 1;
    if (t > 1) tieTerm += t * t * t - t;
    for (let k = i; k <= j; k++) if (all[k]!.g === 0) rankSumA += rank;
    i = j + 1;
  }
  const u1 = rankSumA - (n1 * (n1 + 1)) / 2;
  const u2 = n1 * n2 - u1;
  const effect = u1 / (n1 * n2);
  if (tieTerm === 0 && n1 * n2 <= EXACT_MAX_PAIRS) {
    return { u1, u2, z: Number.NaN, p: exactTwoSidedP(n1, n2, Math.max(u1, u2)), method: 'exact', effect };
  }
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { u1, u2, z: 0, p: 1, method: 'normal', effect }; // every value equal
  const diff = Math.abs(u1 - mean);
  const z = Math.max(0, diff - 0.5) / Math.sqrt(variance);
  return { u1, u2, z: u1 >= mean ? z : -z, p: twoSidedP(z), method: 'normal', effect };
}

/**
 * P(U >= uMax) * 2 under H0, from the number of arrangements with each U (the recurrence
 * f(m, n, u) = f(m−1, n, u−n) + f(m, n−1, u)), computed as counts over all C(n1+n2, n1) orderings.
 */
function exactTwoSidedP(n1: number, n2: number, uMax: number): number {
  // counts[j][u]: arrangements of i items of sample 1 and j of sample 2 with statistic u, rolled over i.
  let prev: number[][] = Array.from({ length: n2 + 1 }, () => [1]);
  for (let i = 1; i <= n1; i++) {
    const cur: number[][] = [];
    for (let j = 0; j <= n2; j++) {
      const size = i * j + 1;
      const row = new Array<number>(size).fill(0);
      const left = prev[j]!; // last item from sample 1: it beats all j of sample 2
      for (let u = 0; u < left.length; u++) row[u + j]! += left[u]!;
      if (j > 0) {
        const down = cur[j - 1]!; // last item from sample 2: beats nothing
        for (let u = 0; u < down.length; u++) row[u]! += down[u]!;
      }
      cur.push(row);
    }
    prev = cur;
  }
  const dist = prev[n2]!;
  let total = 0;
  let tail = 0;
  for (let u = 0; u < dist.length; u++) {
    total += dist[u]!;
    if (u >= uMax) tail += dist[u]!;
  }
  return Math.min(1, (2 * tail) / total);
}
