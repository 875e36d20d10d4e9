import { expect, it } from 'vitest';
import { seededRandom } from '../../core/random';
import type { VariantStats } from './variant-stats';
import { verdict } from './verdict';

function stats(variantId: string, requests: number, errors: number, up: number, down: number): VariantStats {
  const none = { p50: null, p95: null, p99: null };
  return { variantId, requests, errors, errorRate: errors / requests, ttft: none, e2e: none, tokensPerSecond: null, thumbsUp: up, thumbsDown: down };
}
const rnd = seededRandom(11);
const sample = (n: number, base: number, spread = 100) => Array.from({ length: n }, () => base + rnd() * spread);

it('calls a clearly faster candidate better, with the median difference and its interval', () => {
  const samples = new Map([
    ['a', { e2e: sample(400, 500), ttft: sample(400, 50) }],
    ['b', { e2e: sample(400, 400), ttft: sample(400, 50) }],
  ]);
  const [c] = verdict([stats('a', 400, 4, 30, 10), stats('b', 400, 4, 30, 10)], samples);
  const e2e = c!.latency.find((l) => l.metric === 'e2e')!;
  expect(e2e.finding).toBe('better');
  expect(e2e.p).toBeLessThan(1e-6);
  expect(e2e.medianDiff).toBeCloseTo(-100, -1);
  expect(e2e.low).toBeLessThan(e2e.medianDiff);
  expect(e2e.high).toBeGreaterThan(e2e.medianDiff);
  expect(c!.overall).toBe('better');
});

it('calls more errors worse, and says how many more requests a small experiment needs', () => {
  const few = new Map([
    ['a', { e2e: sample(20, 500, 1000), ttft: sample(20, 50, 100) }],
    ['b', { e2e: sample(20, 500, 1000), ttft: sample(20, 50, 100) }],
  ]);
  const [early] = verdict([stats('a', 20, 0, 1, 1), stats('b', 20, 0, 1, 0)], few);
  expect(early!.overall).toBe('too_early');
  const e2e = early!.latency.find((l) => l.metric === 'e2e')!;
  expect(e2e.finding).toBe('too_early');
  expect(e2e.moreNeeded).toBeGreaterThan(0);
  expect(early!.thumbs!.moreNeeded).toBeGreaterThan(100);

  const [worse] = verdict([stats('a', 2000, 20, 0, 0), stats('b', 2000, 100, 0, 0)], new Map());
  expect(worse!.errors).toMatchObject({ finding: 'worse', rates: [0.01, 0.05] });
  expect(worse!.thumbs).toBeNull();
  expect(worse!.overall).toBe('worse');
});
