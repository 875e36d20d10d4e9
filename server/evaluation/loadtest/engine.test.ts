import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEngine } from './engine';
import type { ShardJob } from './shard-protocol';
import { summarize } from './summary';
import { startTimedDoubleProcess } from './testing/timed-double-process';

// The double's timing is known: first token 40 ms after the request, then one every 15 ms.
const FIRST = 40;
const GAP = 15;
const TOKENS = 8;

let double: Awaited<ReturnType<typeof startTimedDoubleProcess>>;
beforeAll(async () => {
  double = await startTimedDoubleProcess({ firstTokenMs: FIRST, interTokenMs: GAP, tokens: TOKENS });
}, 60_000);
afterAll(() => double?.close());

function jobs(n: number): ShardJob[] {
  return Array.from({ length: n }, (_, seq) => ({ seq, stage: 0, atMs: null, prompt: { kind: 'random', tokens: 32, seed: seq }, maxTokens: TOKENS }));
}

async function measure(concurrency: number, requests: number, warm: number) {
  const result = await runEngine({ url: `${double.url}/v1`, headers: {}, api: 'chat', model: 'timed', ignoreEos: false, texts: [], jobs: jobs(requests), concurrency, timeoutMs: 30_000 });
  // The first wave opens connections: the same warm-up a real run excludes.
  return { result, summary: summarize(result.samples.filter((s) => s.seq >= warm)) };
}

describe('load-test engine against a double with known delays', () => {
  it('measures TTFT and ITL medians within 2 ms at concurrency 1', async () => {
    const { result, summary } = await measure(1, 40, 5);
    expect(summary.failed).toBe(0);
    expect(Math.abs(summary.ttftMs!.median - FIRST)).toBeLessThan(2);
    expect(Math.abs(summary.itlMs!.median - GAP)).toBeLessThan(2);
    // TPOT by vLLM's definition: (e2e - ttft) / (output tokens - 1), here the token gap.
    expect(Math.abs(summary.tpotMs!.median - GAP)).toBeLessThan(2);
    expect(result.samples.every((s) => s.outputTokens === TOKENS && s.itlMs.length === TOKENS - 1)).toBe(true);
    expect(summary.peakConcurrency).toBe(1);
  }, 60_000);

  it('measures TTFT and ITL medians within 2 ms at concurrency 200, and reports its own timing error', async () => {
    const { result, summary } = await measure(200, 1_200, 200);
    expect(summary.failed).toBe(0);
    expect(summary.peakConcurrency).toBeGreaterThan(150);
    expect(Math.abs(summary.ttftMs!.median - FIRST)).toBeLessThan(2);
    expect(Math.abs(summary.itlMs!.median - GAP)).toBeLessThan(2);
    expect(result.timing.shards).toBeGreaterThanOrEqual(1);
    expect(result.timing.loopDelayP99Ms).toBeGreaterThanOrEqual(0);
    expect(result.timing.loopDelayMaxMs).toBeGreaterThanOrEqual(result.timing.loopDelayP50Ms);
  }, 120_000);
});
