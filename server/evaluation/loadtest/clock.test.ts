import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { monotonicMs, performanceToMonotonic } from './clock';

describe('shared monotonic clock', () => {
  it('reads the same instant in another process: its reading falls between ours before and after', async () => {
    const child = fork(fileURLToPath(new URL('./testing/clock-child.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    try {
      await new Promise((resolve) => child.once('message', resolve));
      const ask = () => new Promise<number>((resolve) => (child.once('message', (m) => resolve(m as number)), child.send('now')));
      for (let i = 0; i < 5; i++) {
        const before = monotonicMs();
        const theirs = await ask();
        const after = monotonicMs();
        expect(theirs).toBeGreaterThanOrEqual(before);
        expect(theirs).toBeLessThanOrEqual(after);
      }
    } finally {
      child.kill();
    }
  });

  it('maps this thread\'s performance.now() onto it', () => {
    const before = monotonicMs();
    const mapped = performance.now() + performanceToMonotonic;
    const after = monotonicMs();
    // Within a millisecond: the offset is taken from two readings a few microseconds apart.
    expect(mapped).toBeGreaterThan(before - 1);
    expect(mapped).toBeLessThan(after + 1);
  });
});
