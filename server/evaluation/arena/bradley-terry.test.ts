import { describe, expect, it } from 'vitest';
import { quantile } from '../../core/quantile';
import { bradleyTerryWithIntervals, fitBradleyTerry } from './bradley-terry';
import { onlineElo } from './elo';
import { gameOf, type Game } from './games';
import { buildLeaderboard } from './leaderboard';
import { seededRandom } from '../../core/random';

/** A tournament among players of known rating: uniform random pairs, outcomes drawn from the BT model. */
function tournament(truth: Record<string, number>, games: number, seed: number): Game[] {
  const random = seededRandom(seed);
  const names = Object.keys(truth);
  const out: Game[] = [];
  while (out.length < games) {
    const a = names[Math.floor(random() * names.length)]!;
    const b = names[Math.floor(random() * names.length)]!;
    if (a === b) continue;
    const pA = 1 / (1 + 10 ** ((truth[b]! - truth[a]!) / 400));
    out.push({ a, b, scoreA: random() < pA ? 1 : 0 });
  }
  return out;
}

// Mean 1000, like the fitted ratings' anchor, so fitted and true values compare directly.
const TRUTH = { alpha: 1250, bravo: 1100, charlie: 1000, delta: 900, echo: 750 };

describe('Bradley-Terry', () => {
  it('recovers known strengths from a 5-player, 5,000-game tournament: exact ranks, ratings within 25 points, 95% intervals covering the truth', () => {
    const games = tournament(TRUTH, 5000, 7);
    const fitted = bradleyTerryWithIntervals(Object.keys(TRUTH), games, { resamples: 200, seed: 3 });
    const byFit = [...fitted.entries()].sort((x, y) => y[1].rating - x[1].rating).map(([m]) => m);
    expect(byFit).toEqual(['alpha', 'bravo', 'charlie', 'delta', 'echo']);
    for (const [model, r] of fitted) {
      const truth = TRUTH[model as keyof typeof TRUTH];
      expect(Math.abs(r.rating - truth)).toBeLessThan(25);
      expect(r.low).toBeLessThanOrEqual(truth);
      expect(r.high).toBeGreaterThanOrEqual(truth);
      expect(r.low).toBeLessThan(r.rating);
      expect(r.high).toBeGreaterThan(r.rating);
      // About ±2 standard errors of ~10 points with 2,000 games per player.
      expect(r.high - r.low).toBeGreaterThan(15);
      expect(r.high - r.low).toBeLessThan(70);
    }
  });

  it('gives intervals that cover the truth about 95% of the time over repeated tournaments', () => {
    let covered = 0;
    let total = 0;
    for (let seed = 100; seed < 112; seed++) {
      const fitted = bradleyTerryWithIntervals(Object.keys(TRUTH), tournament(TRUTH, 1500, seed), { resamples: 100, seed });
      for (const [model, r] of fitted) {
        total++;
        const truth = TRUTH[model as keyof typeof TRUTH];
        if (r.low <= truth && truth <= r.high) covered++;
      }
    }
    expect(covered / total).toBeGreaterThan(0.85);
  });

  it('is the same for the same votes (seeded bootstrap) and anchors the mean at 1000', () => {
    const games = tournament(TRUTH, 800, 11);
    const one = bradleyTerryWithIntervals(Object.keys(TRUTH), games, { resamples: 50, seed: 5 });
    const two = bradleyTerryWithIntervals(Object.keys(TRUTH), games, { resamples: 50, seed: 5 });
    expect([...one.entries()]).toEqual([...two.entries()]);
    const mean = [...one.values()].reduce((s, r) => s + r.rating, 0) / one.size;
    expect(mean).toBeCloseTo(1000, 9);
  });

  it('counts ties as half a win: a pair that only ties is level; a 3-1 record is exactly 400·log10(3) apart without the prior', () => {
    const ties = fitBradleyTerry(['x', 'y'], Array.from({ length: 10 }, () => gameOf('x', 'y', 'tie')));
    expect(ties.get('x')).toBeCloseTo(ties.get('y')!, 9);
    // 300 wins, 100 losses as 200 wins + 200 ties: x scores 300 of 400 either way.
    const decisive = fitBradleyTerry(['x', 'y'], [...Array(300).fill(gameOf('x', 'y', 'a')), ...Array(100).fill(gameOf('x', 'y', 'b'))]);
    const halves = fitBradleyTerry(['x', 'y'], [...Array(200).fill(gameOf('x', 'y', 'a')), ...Array(200).fill(gameOf('x', 'y', 'tie'))]);
    expect(decisive.get('x')! - decisive.get('y')!).toBeCloseTo(halves.get('x')! - halves.get('y')!, 6);
    // The one virtual tie per model pulls the 190.8-point gap (400·log10 3) in by well under a point.
    expect(decisive.get('x')! - decisive.get('y')!).toBeGreaterThan(189.5);
    expect(decisive.get('x')! - decisive.get('y')!).toBeLessThan(400 * Math.log10(3));
    expect(gameOf('x', 'y', 'both_bad').scoreA).toBe(0.5);
  });

  it('keeps a model that never won at a finite rating', () => {
    const r = fitBradleyTerry(['x', 'y'], Array.from({ length: 20 }, () => gameOf('x', 'y', 'a')));
    expect(Number.isFinite(r.get('y')!)).toBe(true);
    expect(r.get('x')!).toBeGreaterThan(r.get('y')! + 300);
  });

  it('interpolates quantiles like numpy', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10, 20, 30, 40, 50], 0.025)).toBeCloseTo(11, 9);
  });
});

describe('online Elo (K=4)', () => {
  it('moves known amounts', () => {
    const one = onlineElo([gameOf('a', 'b', 'a')]);
    expect(one.get('a')).toBe(1002);
    expect(one.get('b')).toBe(998);
    const two = onlineElo([gameOf('a', 'b', 'a'), gameOf('b', 'a', 'a')]);
    // b (998) beats a (1002): expected 1/(1+10^(4/400)) = 0.494244…, so b gains 4·0.505756 = 2.02302.
    expect(two.get('b')).toBeCloseTo(1000.02302, 4);
    expect(two.get('a')).toBeCloseTo(999.97698, 4);
    const tie = onlineElo([gameOf('a', 'b', 'tie')]);
    expect(tie.get('a')).toBe(1000);
  });
});

describe('leaderboard', () => {
  it('ranks by interval overlap, tallies votes, and treats both-bad as a tie', () => {
    const votes = [
      ...Array.from({ length: 60 }, () => ({ modelA: 'strong', modelB: 'weak', winner: 'a' as const })),
      ...Array.from({ length: 10 }, () => ({ modelA: 'weak', modelB: 'strong', winner: 'a' as const })),
      ...Array.from({ length: 5 }, () => ({ modelA: 'strong', modelB: 'weak', winner: 'both_bad' as const })),
    ];
    const board = buildLeaderboard(votes, 3, 50);
    expect(board.rows.map((r) => [r.model, r.rank, r.votes, r.wins, r.losses, r.ties, r.provisional])).toEqual([
      ['strong', 1, 75, 60, 10, 5, false],
      ['weak', 2, 75, 10, 60, 5, false],
    ]);
    expect(board.excludedVotes).toBe(3);
    expect(board.rows[0]!.elo).toBeGreaterThan(1000);
  });

  it('marks models with few votes provisional, and shares a rank when intervals overlap', () => {
    const board = buildLeaderboard([{ modelA: 'x', modelB: 'y', winner: 'a' }, { modelA: 'y', modelB: 'x', winner: 'a' }, { modelA: 'x', modelB: 'y', winner: 'tie' }], 0, 50);
    expect(board.rows.every((r) => r.provisional)).toBe(true);
    expect(board.rows.map((r) => r.rank)).toEqual([1, 1]);
  });
});
