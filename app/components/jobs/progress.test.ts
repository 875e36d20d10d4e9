import { describe, expect, it } from 'vitest';
import { etaSeconds, formatDuration, jobSeconds, progressFraction, stepRate } from './progress';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

describe('step rate and ETA', () => {
  it('measures steps per second between the latest step events, ignoring eval events', () => {
    const metrics = [
      { kind: 'step' as const, step: 10, at: at(0) },
      { kind: 'eval' as const, step: 15, at: at(100) },
      { kind: 'step' as const, step: 20, at: at(5) },
      { kind: 'step' as const, step: 30, at: at(10) },
    ];
    expect(stepRate(metrics)).toBeCloseTo(2);
    expect(etaSeconds(30, 130, stepRate(metrics))).toBeCloseTo(50);
  });

  it('follows a slowdown: only the latest window counts', () => {
    // 100 fast steps (10/s), then 20 slow ones (1/s): the window of 20 sees the slow rate.
    const fast = Array.from({ length: 100 }, (_, i) => ({ kind: 'step' as const, step: i, at: new Date(i * 100) }));
    const slow = Array.from({ length: 20 }, (_, i) => ({ kind: 'step' as const, step: 100 + i, at: new Date(10_000 + i * 1000) }));
    expect(stepRate([...fast, ...slow])).toBeCloseTo(1);
  });

  it('has no rate or ETA without two distinct steps, and zero ETA when done', () => {
    expect(stepRate([])).toBeNull();
    expect(stepRate([{ kind: 'step', step: 5, at: at(0) }])).toBeNull();
    expect(stepRate([{ kind: 'step', step: 5, at: at(0) }, { kind: 'step', step: 6, at: at(0) }])).toBeNull();
    expect(etaSeconds(5, 10, null)).toBeNull();
    expect(etaSeconds(undefined, 10, 1)).toBeNull();
    expect(etaSeconds(10, 10, null)).toBe(0);
    expect(etaSeconds(3, 0, 1)).toBeNull();
  });
});

describe('progress and duration', () => {
  it('is the step share, clamped, and full once succeeded', () => {
    expect(progressFraction({ status: 'running', progress: { step: 25, totalSteps: 100 } })).toBe(0.25);
    expect(progressFraction({ status: 'running', progress: { step: 250, totalSteps: 100 } })).toBe(1);
    expect(progressFraction({ status: 'queued', progress: {} })).toBe(0);
    expect(progressFraction({ status: 'succeeded', progress: {} })).toBe(1);
  });

  it('counts from the start (or creation while waiting) to the end or now', () => {
    expect(jobSeconds({ createdAt: at(0), startedAt: at(10), finishedAt: at(70) })).toBe(60);
    expect(jobSeconds({ createdAt: at(0), startedAt: null, finishedAt: null }, at(30).getTime())).toBe(30);
  });

  it('reads as seconds, minutes, hours or days', () => {
    expect(formatDuration(12.4)).toBe('12s');
    expect(formatDuration(185)).toBe('3m 05s');
    expect(formatDuration(3720)).toBe('1h 02m');
    expect(formatDuration(3 * 86400 + 3600)).toBe('3d 1h');
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(-1)).toBe('—');
  });
});
