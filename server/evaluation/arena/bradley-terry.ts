import { quantile } from '../../core/quantile';
import type { Game } from './games';
import { seededRandom } from '../../core/random';

/** Ratings on the Elo-like scale: 400·log10(strength), shifted so the models' mean is the anchor. */
export const RATING_SCALE = 400;
export const RATING_ANCHOR = 1000;

const MAX_ITERATIONS = 100;
// Largest Newton step in θ = ln(strength); 1e-9 is far below a thousandth of a rating point.
const TOLERANCE = 1e-9;

/**
 * Bradley-Terry maximum likelihood (Newton iterations, see `fitStrengths`).
 * Ties count as half a win for each side. Every model also plays one virtual tie against a fixed
 * reference of strength 1: a tiny prior that keeps a model with no wins (or a part of the graph that
 * never met the rest) at a finite rating instead of minus infinity. With hundreds of votes its pull
 * is a few points at most.
 *
 * Returns each model's rating (mean = RATING_ANCHOR).
 */
export function fitBradleyTerry(models: string[], games: Game[]): Map<string, number> {
  const encoded = encode(models, games);
  const { wins, pairs } = tally(models.length, encoded, null);
  return ratingsFrom(models, fitStrengths(models.length, wins, pairs, null));
}

/** Games as parallel typed arrays of model indices and A's score: resampling then allocates nothing per game. */
interface Encoded {
  a: Int32Array;
  b: Int32Array;
  score: Float64Array;
}

function encode(models: string[], games: Game[]): Encoded {
  const index = new Map(models.map((m, i) => [m, i]));
  const kept = games.filter((g) => index.has(g.a) && index.has(g.b) && g.a !== g.b);
  const out = { a: new Int32Array(kept.length), b: new Int32Array(kept.length), score: new Float64Array(kept.length) };
  kept.forEach((g, n) => {
    out.a[n] = index.get(g.a)!;
    out.b[n] = index.get(g.b)!;
    out.score[n] = g.scoreA;
  });
  return out;
}

/** Points per model and games per pair; `draw` (indices into the games) is one bootstrap resample. */
function tally(k: number, games: Encoded, draw: Int32Array | null) {
  const wins = new Float64Array(k);
  const pairs = new Float64Array(k * k);
  const n = draw ? draw.length : games.a.length;
  for (let t = 0; t < n; t++) {
    const g = draw ? draw[t]! : t;
    const i = games.a[g]!;
    const j = games.b[g]!;
    wins[i] += games.score[g]!;
    wins[j] += 1 - games.score[g]!;
    pairs[i * k + j] += 1;
    pairs[j * k + i] += 1;
  }
  return { wins, pairs };
}

/**
 * Maximum likelihood by Newton's method on θ = ln(strength). The log-likelihood is concave, and the
 * virtual games make it strictly so, so a few Newton steps converge where MM (p_i ← W_i / Σ n_ij/(p_i+p_j))
 * crawls: the virtual games pin the common scale only weakly, and MM moves along that direction at a
 * rate set by their tiny weight (seconds for a 20,000-vote bootstrap instead of well under one).
 * `start`: θ to begin from (a bootstrap resample starts at the full fit, which it is close to).
 */
function fitStrengths(k: number, wins: Float64Array, pairs: Float64Array, start: Float64Array | null): Float64Array {
  const theta = start ? Float64Array.from(start, (p) => Math.log(p)) : new Float64Array(k);
  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    // gradient g and the negated Hessian h (positive definite)
    const g = new Float64Array(k);
    const h = new Float64Array(k * k);
    for (let i = 0; i < k; i++) {
      const s0 = 1 / (1 + Math.exp(-theta[i]!)); // P(i beats the reference)
      g[i] += wins[i]! + 0.5 - s0;
      h[i * k + i] += s0 * (1 - s0);
      for (let j = i + 1; j < k; j++) {
        const n = pairs[i * k + j]!;
        if (n === 0) continue;
        const sij = 1 / (1 + Math.exp(theta[j]! - theta[i]!));
        const v = n * sij * (1 - sij);
        g[i] -= n * sij;
        g[j] -= n * (1 - sij);
        h[i * k + i] += v;
        h[j * k + j] += v;
        h[i * k + j] -= v;
        h[j * k + i] -= v;
      }
    }
    const step = solve(k, h, g);
    // A far-off start (a model with no wins heads for a large negative θ) is approached in bounded steps.
    const largest = step.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    const scale = largest > 2 ? 2 / largest : 1;
    for (let i = 0; i < k; i++) theta[i] += scale * step[i]!;
    if (largest < TOLERANCE) break;
  }
  return Float64Array.from(theta, (t) => Math.exp(t));
}

/** Solves A·x = b for a small symmetric positive definite A (Cholesky); A and b are left unchanged. */
function solve(k: number, a: Float64Array, b: Float64Array): Float64Array {
  const l = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * k + j]!;
      for (let m = 0; m < j; m++) sum -= l[i * k + m]! * l[j * k + m]!;
      l[i * k + j] = i === j ? Math.sqrt(Math.max(sum, 1e-300)) : sum / l[j * k + j]!;
    }
  }
  const y = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    let sum = b[i]!;
    for (let m = 0; m < i; m++) sum -= l[i * k + m]! * y[m]!;
    y[i] = sum / l[i * k + i]!;
  }
  const x = new Float64Array(k);
  for (let i = k - 1; i >= 0; i--) {
    let sum = y[i]!;
    for (let m = i + 1; m < k; m++) sum -= l[m * k + i]! * x[m]!;
    x[i] = sum / l[i * k + i]!;
  }
  return x;
}

function ratingsFrom(models: string[], p: Float64Array): Map<string, number> {
  const raw = models.map((_, i) => (RATING_SCALE * Math.log(p[i]!)) / Math.LN10);
  const mean = raw.reduce((s, r) => s + r, 0) / Math.max(1, raw.length);
  return new Map(models.map((m, i) => [m, RATING_ANCHOR + raw[i]! - mean]));
}

export interface RatingInterval {
  rating: number;
  low: number;
  high: number;
}

/**
 * The fit plus a 95% percentile bootstrap interval per model: the votes are resampled with
 * replacement `resamples` times (seeded, so the same votes always give the same intervals) and refit.
 */
export function bradleyTerryWithIntervals(models: string[], games: Game[], { resamples = 200, seed = 1 } = {}): Map<string, RatingInterval> {
  const k = models.length;
  const encoded = encode(models, games);
  const full = tally(k, encoded, null);
  const strengths = fitStrengths(k, full.wins, full.pairs, null);
  const point = ratingsFrom(models, strengths);
  const random = seededRandom(seed);
  const samples = new Map(models.map((m) => [m, [] as number[]]));
  const n = encoded.a.length;
  const draw = new Int32Array(n);
  for (let r = 0; r < resamples && n > 0; r++) {
    for (let t = 0; t < n; t++) draw[t] = Math.floor(random() * n);
    const { wins, pairs } = tally(k, encoded, draw);
    for (const [m, rating] of ratingsFrom(models, fitStrengths(k, wins, pairs, strengths))) samples.get(m)!.push(rating);
  }
  return new Map(
    models.map((m) => {
      const rating = point.get(m)!;
      const sorted = samples.get(m)!.sort((x, y) => x - y);
      if (sorted.length === 0) return [m, { rating, low: rating, high: rating }];
      return [m, { rating, low: quantile(sorted, 0.025), high: quantile(sorted, 0.975) }];
    }),
  );
}

