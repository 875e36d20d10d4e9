import { expect, it } from 'vitest';
import { fillDays } from './day-bars';

it('gives every day of the range a slot, zero where nothing was used, across a month end', () => {
  const days = fillDays('2026-01-30', '2026-02-02', [{ day: '2026-01-31', promptTokens: 5, completionTokens: 7 }]);
  expect(days).toEqual([
    { day: '2026-01-30', promptTokens: 0, completionTokens: 0 },
    { day: '2026-01-31', promptTokens: 5, completionTokens: 7 },
    { day: '2026-02-01', promptTokens: 0, completionTokens: 0 },
    { day: '2026-02-02', promptTokens: 0, completionTokens: 0 },
  ]);
  expect(fillDays('2026-02-02', '2026-01-30', [])).toEqual([]);
});
