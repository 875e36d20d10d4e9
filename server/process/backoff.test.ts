import { describe, expect, it } from 'vitest';
import { restartDelayMs } from './backoff';

describe('restartDelayMs', () => {
  it('doubles from the base and stops at the cap', () => {
    const policy = { baseMs: 100, maxMs: 1_000 };
    expect([1, 2, 3, 4, 5, 50].map((n) => restartDelayMs(n, policy))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });
});
