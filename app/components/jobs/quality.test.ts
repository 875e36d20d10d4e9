import { describe, expect, it } from 'vitest';
import { readQuality, withinLimit } from './quality';

describe('quantization figures', () => {
  it('computes the delta in percent from before and after, and takes the limit from the spec', () => {
    const q = readQuality({ perplexityBefore: 10, perplexityAfter: 10.3, sizeBeforeBytes: 1000, sizeAfterBytes: 540, seconds: 1.5 }, { maxPerplexityDeltaPct: 5 });
    expect(q.deltaPct).toBeCloseTo(3);
    expect(q).toMatchObject({ sizeBeforeBytes: 1000, sizeAfterBytes: 540, seconds: 1.5, limitPct: 5 });
    expect(withinLimit(q)).toBe(true);
  });

  it('reads the GGUF worker\'s result as it writes it (server/lifecycle/jobs/quantize-gguf.ts)', () => {
    const result = { target: 'q8_0', inputBytes: 1_185_376, outputBytes: 400_000, sizeRatio: 0.34, quantizeSeconds: 0.08, perplexityBefore: 8, perplexityAfter: 8.2, deltaPct: 2.5, maxDeltaPct: 5, tokensPerSecondBefore: 900, tokensPerSecondAfter: 1100 };
    expect(readQuality(result, { maxPerplexityDeltaPct: 5 })).toEqual({
      sizeBeforeBytes: 1_185_376,
      sizeAfterBytes: 400_000,
      seconds: 0.08,
      perplexityBefore: 8,
      perplexityAfter: 8.2,
      deltaPct: expect.closeTo(2.5, 9),
      limitPct: 5,
      speedBefore: 900,
      speedAfter: 1100,
    });
  });

  it('reads what the worker writes: deltaPct and maxDeltaPct when before/after are missing', () => {
    const q = readQuality({ outputPath: '/x.gguf', perplexityBefore: null, perplexityAfter: null, deltaPct: 7.5, maxDeltaPct: 5 }, { maxPerplexityDeltaPct: 9 });
    expect(q).toMatchObject({ deltaPct: 7.5, limitPct: 5 });
    expect(withinLimit(q)).toBe(false);
  });

  it('reads the trainer protocol spelling, with its delta as a fraction', () => {
    const q = readQuality({ perplexity_delta: 0.12, input_bytes: 2048 }, { maxPerplexityDeltaPct: 5 });
    expect(q.deltaPct).toBeCloseTo(12);
    expect(q.sizeBeforeBytes).toBe(2048);
    expect(withinLimit(q)).toBe(false);
  });

  it('leaves unknown or non-numeric figures empty rather than guessing', () => {
    const q = readQuality({ perplexityBefore: 'high', perplexityAfter: Number.NaN }, null);
    expect(q).toEqual({ sizeBeforeBytes: null, sizeAfterBytes: null, seconds: null, perplexityBefore: null, perplexityAfter: null, deltaPct: null, limitPct: null, speedBefore: null, speedAfter: null });
    expect(withinLimit(q)).toBeNull();
  });
});
