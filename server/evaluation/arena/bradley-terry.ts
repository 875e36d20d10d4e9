import type { Game } from './games';
import { seededRandom } from './random';

/** Ratings on the Elo-like scale: 400·log10(strength), shifted so the models' mean is the anchor. */
export const RATING_SCALE = 400;
export const RATING_ANCHOR = 1000;

const MAX_ITERATIONS = 10_000;
const TOLERANCE = 1e-10;

/**
 * Bradley-Terry maximum likelihood by Hunter's MM iterations (2004): p_i ← W_i / Σ_j n_ij/(p_i+p_j).
 * Ties count as half a win for each side. Every model also plays one virtual tie against a fixed
 * reference of strength 1: a tiny prior that keeps a model with no wins (or a part of the graph that
 * never met the rest) at a finite rating instead of minus infinity. With hundreds of votes its pull
 * is a few points at most.
 *
 * Returns each model's rating (mean = RATING_ANCHOR).
 */
export function fitBradleyTerry(models: string[], games: Game[]): Map<string, number> {
  const k = models.length;
  const index = new Map(models.map((m, i) => [m, i]));
  const wins = new Float64Array(k);
  const pairs = new Float64Array(k * k);
  for (const g of games) {
    const i = index.get(g.a);
    const j = index.get(g.b);
    if (i === undefined || j === undefined || i === j) continue;
    wins[i] += g.scoreA;
    wins[j] += 1 - g.scoreA;
    pairs[i * k + j] += 1;
    pairs[j * k + i] += 1;
  }
  return ratingsFrom(models, mmStrengths(k, wins, pairs));
}

function mmStrengths(k: number, wins: Float64Array, pairs: Float64Array): Float64Array {
  let p = new Float64Array(k).fill(1);
  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    const next = new Float64Array(k);
    let change = 0;
    for (let i = 0; i < k; i++) {
      let denominator = 1 / (p[i]! + 1); // the virtual game against the reference
      for (let j = 0; j < k; j++) {
        const n = pairs[i * k + j]!;
        if (n > 0) denominator += n / (p[i]! + p[j]!);
      }
      next[i] = (wins[i]! + 0.5) / denominator;
      change = Math.max(change, Math.abs(Math.log(next[i]! / p[i]!)));
    }
    p = next;
    if (change < TOLERANCE) break;
  }
  return p;
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
  const point = fitBradleyTerry(models, games);
  const random = seededRandom(seed);
  const samples = new Map(models.map((m) => [m, [] as number[]]));
  for (let r = 0; r < resamples && games.length > 0; r++) {
    const drawn: Game[] = new Array(games.length);
    for (let n = 0; n < games.length; n++) drawn[n] = games[Math.floor(random() * games.length)]!;
    for (const [m, rating] of fitBradleyTerry(models, drawn)) samples.get(m)!.push(rating);
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

/** Linear interpolation between order statistics (type 7, as numpy's default). */
export function quantile(sorted: number[], q: number): number {
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}
