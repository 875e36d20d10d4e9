import { describe, expect, it } from 'vitest';
import { bucketize } from './histogram';
import { niceTicks, paddedRange, shortNumber } from './scale';

describe('chart scales', () => {
  it('picks 1-2-5 ticks inside the range', () => {
    expect(niceTicks(0, 100, 5)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0.3, 1.7, 4)).toEqual([0.5, 1, 1.5]);
    expect(niceTicks(5, 5)).toEqual([5]);
  });

  it('gives a flat series some height and leaves a fixed floor alone', () => {
    expect(paddedRange([3, 3, 3])).toEqual([2.7, 6]);
    expect(paddedRange([0, 10], 0)).toEqual([0, 10.5]);
    expect(paddedRange([], 0, 100)).toEqual([0, 100]);
  });

  it('prints short numbers', () => {
    expect(shortNumber(1234567)).toBe('1.23M');
    expect(shortNumber(12345)).toBe('12.3k');
    expect(shortNumber(0.000123)).toBe('0.00012');
    expect(shortNumber(Infinity)).toBe('∞');
  });

  it('counts values into upper-bound buckets, with an overflow bucket', () => {
    expect(bucketize([0.5, 1, 1.5, 9, 100], [1, 2, 10])).toEqual([
      { le: 1, count: 2 },
      { le: 2, count: 1 },
      { le: 10, count: 1 },
      { le: Infinity, count: 1 },
    ]);
  });
});
