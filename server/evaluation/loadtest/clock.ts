import { performance } from 'node:perf_hooks';

/**
 * One clock for every thread and process on this machine: CLOCK_MONOTONIC in milliseconds.
 *
 * performance.timeOrigin + performance.now() is not that clock. Each thread and process takes its
 * timeOrigin from the wall clock when it starts, so two of them disagree by however much the wall clock
 * was slewed or stepped between their starts (NTP on a freshly booted CI machine: 9 ms, constant, seen as
 * a TTFT "error" while the inter-token gaps, measured on one clock, were exact). process.hrtime is the
 * system-wide monotonic clock, the same instant everywhere.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** performance.now() of this thread on the shared clock: add it to a performance.now() reading. */
export const performanceToMonotonic = monotonicMs() - performance.now();
