import { describe, expect, it, test } from 'vitest';
import { chooseSplit, isHeldOut, splitDataset } from './split';

test('the same seed gives the same split; another seed another one; the fraction is respected', () => {
  const a = splitDataset(10_000, { heldOutFraction: 0.1, seed: 42 });
  expect(splitDataset(10_000, { heldOutFraction: 0.1, seed: 42 })).toEqual(a);
  expect(a.trainRows + a.heldOutRows).toBe(10_000);
  expect(a.heldOutRows).toBeGreaterThan(900);
  expect(a.heldOutRows).toBeLessThan(1100);
  const rowsA = Array.from({ length: 200 }, (_, i) => isHeldOut(i, a));
  const rowsB = Array.from({ length: 200 }, (_, i) => isHeldOut(i, { seed: 43, heldOutFraction: 0.1 }));
  expect(rowsB).not.toEqual(rowsA);
});

test('a row keeps its side when rows are appended', () => {
  const small = Array.from({ length: 100 }, (_, i) => isHeldOut(i, { seed: 7, heldOutFraction: 0.2 }));
  const counted = small.filter(Boolean).length;
  expect(splitDataset(100, { heldOutFraction: 0.2, seed: 7 }).heldOutRows).toBe(counted);
  expect(splitDataset(1000, { heldOutFraction: 0.2, seed: 7 }).heldOutRows).toBeGreaterThanOrEqual(counted);
});

test('bad parameters and empty sides are refused with a reason', () => {
  expect(() => splitDataset(100, { heldOutFraction: 0, seed: 1 })).toThrow(/between 0 and 1/);
  expect(() => splitDataset(100, { heldOutFraction: 1.5, seed: 1 })).toThrow(/between 0 and 1/);
  expect(() => splitDataset(100, { heldOutFraction: 0.1, seed: -1 })).toThrow(/seed/);
  expect(() => splitDataset(1, { heldOutFraction: 0.5, seed: 1 })).toThrow(/at least 2 rows/);
  // Some seed holds out nothing of 3 rows at 1%: the error says so instead of recording an empty held-out set.
  const seed = Array.from({ length: 100 }, (_, s) => s).find((s) => ![0, 1, 2].some((i) => isHeldOut(i, { seed: s, heldOutFraction: 0.01 })))!;
  expect(() => splitDataset(3, { heldOutFraction: 0.01, seed })).toThrow(/holds out none of 3 rows/);
});

describe('chooseSplit', () => {
  it('without a seed, always finds one that leaves rows on both sides of a small file', () => {
    let next = 0;
    // Seeds in order; many of them hold out none of 12 rows at 10 %, which must not surface as an error.
    const seeds = () => next++;
    for (let i = 0; i < 200; i++) {
      const split = chooseSplit(12, { heldOutFraction: 0.1 }, seeds);
      expect(split.heldOutRows).toBeGreaterThan(0);
      expect(split.trainRows).toBeGreaterThan(0);
      expect(splitDataset(12, split)).toEqual(split); // the recorded seed rebuilds it
    }
    expect(next).toBeGreaterThan(200); // some seeds were skipped
  });

  it('refuses, every time, a fraction that expects less than one row on a side', () => {
    let next = 0;
    for (let i = 0; i < 50; i++) {
      expect(() => chooseSplit(20, { heldOutFraction: 0.0001 }, () => next++)).toThrow(/holds out none of 20 rows \(0.0020 expected\)/);
      expect(() => chooseSplit(20, { heldOutFraction: 0.99 }, () => next++)).toThrow(/leaves no training rows among 20/);
    }
    expect(next).toBe(0); // no seed was even tried
  });

  it("with the uploader's seed, that split or its error", () => {
    const some = Array.from({ length: 1000 }, (_, s) => s).find((s) => splitDataset(12, { heldOutFraction: 0.5, seed: s }).heldOutRows > 0)!;
    expect(chooseSplit(12, { heldOutFraction: 0.5, seed: some }, () => 1)).toEqual(splitDataset(12, { heldOutFraction: 0.5, seed: some }));
    const none = Array.from({ length: 10_000 }, (_, s) => s).find((s) => {
      try {
        splitDataset(12, { heldOutFraction: 0.05, seed: s });
        return false;
      } catch {
        return true;
      }
    })!;
    expect(() => chooseSplit(12, { heldOutFraction: 0.05, seed: none }, () => 1)).toThrow(/holds out none/);
  });
});
