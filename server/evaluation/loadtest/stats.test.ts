import { describe, expect, it } from 'vitest';
import { arrivalSchedule } from './arrivals';
import { bucketize } from './histograms';
import { quantile } from '../../core/quantile';
import { distribution } from './stats';
import { meetsObjectives, peakConcurrency, summarize } from './summary';
import type { Sample } from './types';
import { parsePromptFile } from './prompt-file';
import { buildJobs } from './workload';
import { loadTestSpecSchema } from './spec';

const sample = (over: Partial<Sample>): Sample => ({
  seq: 0,
  stage: 0,
  startMs: 0,
  ttftMs: 100,
  e2eMs: 1000,
  tpotMs: 10,
  itlMs: [],
  inputTokens: 10,
  outputTokens: 5,
  error: null,
  ...over,
});

describe('statistics', () => {
  it('interpolates percentiles between ranks as numpy does', () => {
    const v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    // rank = p/100 * (n-1): p90 -> 8.1 -> 9 + 0.1 * (10 - 9) = 9.1
    expect(quantile(v, 0.9)).toBeCloseTo(9.1, 10);
    expect(quantile(v, 0.5)).toBeCloseTo(5.5, 10);
    expect(quantile(v, 0.99)).toBeCloseTo(9.91, 10);
    expect(distribution([4, 1, 3, 2])).toEqual({ mean: 2.5, median: 2.5, p90: 3.7, p95: expect.closeTo(3.85, 10), p99: expect.closeTo(3.97, 10) });
    expect(distribution([])).toBeNull();
  });

  it('summarizes throughput, errors, peak concurrency and goodput by hand-computed answers', () => {
    const samples = [
      sample({ seq: 0, startMs: 0, e2eMs: 1000, ttftMs: 100, tpotMs: 20, outputTokens: 10, inputTokens: 4 }),
      sample({ seq: 1, startMs: 500, e2eMs: 1500, ttftMs: 300, tpotMs: 30, outputTokens: 20, inputTokens: 6 }),
      sample({ seq: 2, startMs: 1000, e2eMs: 1000, ttftMs: 200, tpotMs: 50, outputTokens: 30, inputTokens: 10 }),
      sample({ seq: 3, startMs: 1500, e2eMs: 500, ttftMs: null, tpotMs: null, outputTokens: null, inputTokens: null, error: 'HTTP 500' }),
    ];
    const s = summarize(samples, { ttftMs: 250, tpotMs: 40 });
    // From 0 to 2000 ms: 2 s.
    expect(s.durationS).toBe(2);
    expect(s.completed).toBe(3);
    expect(s.failed).toBe(1);
    expect(s.errorRate).toBe(0.25);
    expect(s.requestThroughput).toBe(1.5);
    expect(s.outputTokenThroughput).toBe(30);
    expect(s.totalTokenThroughput).toBe(40);
    // seq 0 meets both; seq 1 breaks TTFT; seq 2 breaks TPOT; seq 3 failed.
    expect(s.goodput).toBe(0.5);
    expect(s.goodFraction).toBe(0.25);
    // 0-1000, 500-2000, 1000-2000, 1500-2000: at 1500 three are open (seq 0 ended at 1000 exactly).
    expect(s.peakConcurrency).toBe(3);
    expect(s.ttftMs!.median).toBe(200);
    expect(s.ttftMs!.mean).toBe(200);
    expect(summarize(samples).goodput).toBeNull();
  });

  it('computes ITL over every gap of every request, and peak concurrency of back-to-back requests as 1', () => {
    const s = summarize([sample({ itlMs: [10, 20] }), sample({ seq: 1, startMs: 1000, itlMs: [30] })]);
    expect(s.itlMs!.mean).toBe(20);
    expect(s.itlMs!.median).toBe(20);
    expect(peakConcurrency([sample({}), sample({ seq: 1, startMs: 1000 })])).toBe(1);
    expect(meetsObjectives(sample({ tpotMs: null }), { tpotMs: 5 })).toBe(true);
  });

  it('counts values into vLLM-style buckets (upper bound inclusive, last is +Inf)', () => {
    expect(bucketize([1, 5, 5.1, 100], [5, 10])).toEqual([
      { le: 5, count: 2 },
      { le: 10, count: 1 },
      { le: Infinity, count: 1 },
    ]);
  });
});

describe('arrival process', () => {
  const gaps = (t: number[]) => t.slice(1).map((v, i) => v - t[i]!);
  const meanCv = (g: number[]) => {
    const m = g.reduce((a, b) => a + b, 0) / g.length;
    const sd = Math.sqrt(g.reduce((a, b) => a + (b - m) ** 2, 0) / (g.length - 1));
    return { m, cv: sd / m };
  };

  it('Poisson (burstiness 1): mean gap 1/rate and CV 1 within sampling error', () => {
    const { m, cv } = meanCv(gaps(arrivalSchedule(20_001, 50, 1, 42)));
    // Standard error of the mean gap: 20 ms / sqrt(20000) = 0.14 ms; 4 SE allowed.
    expect(Math.abs(m - 20)).toBeLessThan(0.6);
    expect(Math.abs(cv - 1)).toBeLessThan(0.04);
  });

  it('gamma gaps: burstiness 0.25 gives CV 2, burstiness 4 gives CV 0.5, same mean', () => {
    const bursty = meanCv(gaps(arrivalSchedule(40_001, 10, 0.25, 7)));
    expect(Math.abs(bursty.m - 100) / 100).toBeLessThan(0.04);
    expect(Math.abs(bursty.cv - 2)).toBeLessThan(0.12);
    const steady = meanCv(gaps(arrivalSchedule(20_001, 10, 4, 7)));
    expect(Math.abs(steady.m - 100) / 100).toBeLessThan(0.02);
    expect(Math.abs(steady.cv - 0.5)).toBeLessThan(0.02);
  });

  it('is reproducible from the seed and different across seeds', () => {
    expect(arrivalSchedule(100, 5, 1, 3)).toEqual(arrivalSchedule(100, 5, 1, 3));
    expect(arrivalSchedule(100, 5, 1, 3)).not.toEqual(arrivalSchedule(100, 5, 1, 4));
    expect(() => arrivalSchedule(10, 0)).toThrow(/rate/);
  });
});

describe('workloads', () => {
  it('random lengths stay within mean·(1 ± rangeRatio) and are seeded', () => {
    const spec = loadTestSpecSchema.parse({ mode: 'rate', rate: 5, requests: 500, workload: { kind: 'random', inputTokens: 100, outputTokens: 50, rangeRatio: 0.5 } });
    const jobs = buildJobs(spec, { stage: 0, seqBase: 0, count: 500, rate: 5, concurrency: null });
    const inputs = jobs.map((j) => (j.prompt.kind === 'random' ? j.prompt.tokens : 0));
    expect(Math.min(...inputs)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...inputs)).toBeLessThanOrEqual(150);
    expect(Math.abs(inputs.reduce((a, b) => a + b, 0) / 500 - 100)).toBeLessThan(5);
    expect(jobs.every((j) => j.maxTokens >= 25 && j.maxTokens <= 75 && j.atMs !== null)).toBe(true);
    expect(buildJobs(spec, { stage: 0, seqBase: 0, count: 500, rate: 5, concurrency: null })).toEqual(jobs);
  });

  it('replays recorded lengths and gaps (scaled by speed)', () => {
    const spec = loadTestSpecSchema.parse({ mode: 'rate', requests: 4, workload: { kind: 'replay', speed: 2 } });
    const replay = [
      { inputTokens: 10, outputTokens: 3, atMs: 0 },
      { inputTokens: 20, outputTokens: 4, atMs: 1000 },
    ];
    const jobs = buildJobs(spec, { stage: 0, seqBase: 0, count: 4, rate: null, concurrency: null, replayTiming: true }, replay);
    expect(jobs.map((j) => j.maxTokens)).toEqual([3, 4, 3, 4]);
    expect(jobs.map((j) => j.atMs)).toEqual([0, 500, 1000, 1500]);
  });

  it('reads prompt files as plain lines or JSON lines, and says which line is wrong', () => {
    expect(parsePromptFile('hello\n\n{"prompt":"a"}\n{"messages":[{"role":"user","content":"b"}]}\n')).toEqual(['hello', 'a', 'b']);
    expect(() => parsePromptFile('ok\n{"nope":1}')).toThrow(/line 2/);
    expect(() => parsePromptFile('{broken')).toThrow(/not JSON/);
  });

  it('rejects specs that cannot run, with the field named', () => {
    expect(() => loadTestSpecSchema.parse({ mode: 'rate', requests: 10, workload: { kind: 'random', inputTokens: 1, outputTokens: 1 } })).toThrow(/rate/);
    expect(() => loadTestSpecSchema.parse({ mode: 'sweep', requests: 10, workload: { kind: 'random', inputTokens: 1, outputTokens: 1 } })).toThrow(/objective/);
    expect(() => loadTestSpecSchema.parse({ mode: 'concurrency', requests: 0, workload: { kind: 'random', inputTokens: 1, outputTokens: 1 } })).toThrow();
  });
});
