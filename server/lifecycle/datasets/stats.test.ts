import { expect, test } from 'vitest';
import { TokenCounts } from './stats';

test('the token histogram uses quarter-octave bounds up to the longest row and counts every row once', () => {
  const counts = new TokenCounts();
  const values = [0, 1, 4, 5, 8, 9, 100, 128, 129, 5000];
  for (const v of values) counts.add(v);
  const histogram = counts.histogram();
  expect(histogram.slice(0, 8).map((b) => b.le)).toEqual([4, 5, 6, 7, 8, 10, 11, 13]);
  // Bounds rise by about 19% each, and the last is the first that holds the longest row.
  expect(histogram.at(-1)!.le).toBeGreaterThanOrEqual(5000);
  expect(histogram.at(-2)!.le).toBeLessThan(5000);
  expect(histogram.reduce((n, b) => n + b.count, 0)).toBe(values.length);
  const countAt = (le: number) => histogram.find((b) => b.le === le)?.count;
  expect(countAt(4)).toBe(3); // 0, 1, 4
  expect(countAt(5)).toBe(1);
  expect(countAt(8)).toBe(1);
  expect(countAt(10)).toBe(1); // 9
  expect(countAt(128)).toBe(1);
  expect(new TokenCounts().histogram()).toEqual([]);
});
