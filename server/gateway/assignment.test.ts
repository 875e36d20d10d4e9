import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { assignVariant, isLive, type ExperimentRoute } from './experiments';
import type { Route } from './routing-table';

function experiment(weights: number[], over: Partial<ExperimentRoute> = {}): ExperimentRoute {
  const route = {} as Route;
  let total = 0;
  const variants = weights.map((w, i) => ({ id: `v${i}`, label: `v${i}`, experimentId: 'e', route, cumulative: (total += w) }));
  return { id: randomUUID(), name: 'x', status: 'running', stickiness: 'user', startsAt: NaN, endsAt: NaN, variants, total, winner: null, seed: 0x811c9dc5 ^ 12345, ...over };
}

it('is sticky: the same caller always gets the same arm', () => {
  const e = experiment([1, 1, 1]);
  for (let i = 0; i < 200; i++) {
    const id = randomUUID();
    const first = assignVariant(e, id).id;
    for (let k = 0; k < 5; k++) expect(assignVariant(e, id).id).toBe(first);
  }
});

it('follows the weights within sampling error (10 000 random uuids, χ² with 2 d.f. below the 0.999 quantile)', () => {
  const e = experiment([2, 3, 5]);
  const n = 10_000;
  const counts = [0, 0, 0];
  for (let i = 0; i < n; i++) counts[Number(assignVariant(e, randomUUID()).id.slice(1))]!++;
  const expected = [0.2, 0.3, 0.5].map((p) => p * n);
  const chi2 = counts.reduce((s, c, i) => s + (c - expected[i]!) ** 2 / expected[i]!, 0);
  expect(chi2).toBeLessThan(13.82); // χ²(2) at 0.999
  // Each arm within 3σ of its share, too.
  counts.forEach((c, i) => expect(Math.abs(c - expected[i]!)).toBeLessThan(3 * Math.sqrt(n * [0.2, 0.3, 0.5][i]! * (1 - [0.2, 0.3, 0.5][i]!))));
});

it('spreads sequential ids too (the hash is mixed, not just FNV)', () => {
  const e = experiment([1, 1]);
  let first = 0;
  for (let i = 0; i < 10_000; i++) if (assignVariant(e, `user-${i}`).id === 'v0') first++;
  expect(Math.abs(first - 5_000)).toBeLessThan(150); // 3σ = 150
});

it('a different experiment reshuffles callers (independent assignments)', () => {
  const a = experiment([1, 1], { seed: 1 });
  const b = experiment([1, 1], { seed: 2 });
  let same = 0;
  for (let i = 0; i < 4_000; i++) {
    const id = randomUUID();
    if (assignVariant(a, id).id === assignVariant(b, id).id) same++;
  }
  expect(Math.abs(same - 2_000)).toBeLessThan(95); // 3σ ≈ 95
});

it('is live only inside its window; promoted only with a winner', () => {
  const now = Date.now();
  expect(isLive(experiment([1]), now)).toBe(true);
  expect(isLive(experiment([1], { startsAt: now + 1000 }), now)).toBe(false);
  expect(isLive(experiment([1], { endsAt: now }), now)).toBe(false);
  expect(isLive(experiment([1], { startsAt: now - 1000, endsAt: now + 1000 }), now)).toBe(true);
  expect(isLive(experiment([1], { status: 'promoted' }), now)).toBe(false);
});
