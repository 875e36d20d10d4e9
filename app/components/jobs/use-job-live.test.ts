import { describe, expect, it } from 'vitest';
import { mergeMetrics } from './use-job-live';

const m = (kind: 'step' | 'eval', step: number, loss: number) => ({ kind, step, at: new Date('2026-01-01T00:00:00Z'), values: { loss } });

describe('incremental metric points', () => {
  it('appends new points in step order, steps before evals of the same step', () => {
    const merged = mergeMetrics([m('step', 1, 3), m('step', 2, 2.5)], [m('eval', 2, 2.7), m('step', 3, 2.2)]);
    expect(merged.map((p) => `${p.kind}${p.step}`)).toEqual(['step1', 'step2', 'eval2', 'step3']);
  });

  it('replaces a repeated step (a resumed job) instead of drawing it twice', () => {
    const merged = mergeMetrics([m('step', 1, 3), m('step', 2, 2.5)], [m('step', 2, 2.4)]);
    expect(merged).toHaveLength(2);
    expect(merged[1]!.values.loss).toBe(2.4);
  });

  it('keeps the same array when nothing is new (no re-render of the charts)', () => {
    const old = [m('step', 1, 3)];
    expect(mergeMetrics(old, [])).toBe(old);
  });
});
