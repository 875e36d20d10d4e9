import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEngine } from './engine';
import type { ShardJob } from './shard-protocol';
import { distribution } from './stats';
import { summarize } from './summary';
import { tokenStampsById } from '../../testing/openai-double';
import { startOpenAIDoubleProcess, type OpenAIDoubleProcess } from '../../testing/openai-double-process';

// The double's timing is known twice over: configured (first token 40 ms after the request, then one
// every 25 ms) and recorded (it stamps each token's write, so a late timer of its own on a busy machine
// is not blamed on the generator).
const FIRST = 40;
const GAP = 25;
const TOKENS = 8;
// At concurrency 200 the streams are longer (fewer new requests per second): the check is about
// timestamps under many open streams, not about how fast this shared 2-core machine opens requests.
const LONG_TOKENS = 40;

let double: OpenAIDoubleProcess;
beforeAll(async () => {
  double = await startOpenAIDoubleProcess({ firstTokenMs: FIRST, interTokenMs: GAP, tokens: LONG_TOKENS });
}, 60_000);
afterAll(() => double?.close());

function jobs(n: number, tokens: number): ShardJob[] {
  return Array.from({ length: n }, (_, seq) => ({ seq, stage: 0, atMs: null, prompt: { kind: 'random', tokens: 32, seed: seq }, maxTokens: tokens }));
}

async function measure(concurrency: number, requests: number, tokens: number) {
  await double.clear();
  const result = await runEngine({ url: `${double.url}/v1`, headers: {}, api: 'chat', model: 'timed', ignoreEos: false, texts: [], jobs: jobs(requests, tokens), concurrency, timeoutMs: 30_000 });
  const stamps = tokenStampsById(await double.requests());
  // The first two waves open connections and warm the shards' JIT: the warm-up a real run excludes.
  const measured = result.samples.filter((s) => s.seq >= Math.min(2 * concurrency, requests / 2));
  // What the double really did, on the same clock: TTFT from the client's send to the first token's
  // write, and the gaps between its writes.
  const trueTtft: number[] = [];
  const trueItl: number[] = [];
  for (const s of measured) {
    const writes = stamps[`loadtest-${s.seq}`]!;
    trueTtft.push(writes[0]! - (result.startAt + s.startMs));
    for (let k = 1; k < writes.length; k++) trueItl.push(writes[k]! - writes[k - 1]!);
  }
  return { result, summary: summarize(measured), trueTtft: distribution(trueTtft)!, trueItl: distribution(trueItl)! };
}

describe('load-test engine against a double with known delays', () => {
  it('measures TTFT and ITL medians within 2 ms at concurrency 1', async () => {
    // As at concurrency 200 below: up to three runs, each reported, in case a neighbouring test file
    // saturates both cores for a whole run; the last must hold 2 ms.
    const attempts: string[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const { result, summary, trueTtft, trueItl } = await measure(1, 40, TOKENS);
      expect(summary.failed).toBe(0);
      // The double kept its configured pace (a timer fires up to a few ms late, never early).
      expect(trueTtft.median).toBeGreaterThanOrEqual(FIRST);
      expect(result.samples.every((s) => s.outputTokens === TOKENS && s.itlMs.length === TOKENS - 1)).toBe(true);
      expect(summary.peakConcurrency).toBe(1);
      const offs = {
        ttft: Math.abs(summary.ttftMs!.median - trueTtft.median),
        itl: Math.abs(summary.itlMs!.median - trueItl.median),
        pace: Math.abs(trueItl.median - GAP),
        itlVsGap: Math.abs(summary.itlMs!.median - GAP),
        // TPOT by vLLM's definition: (e2e - ttft) / (output tokens - 1), here the token gap.
        tpotVsGap: Math.abs(summary.tpotMs!.median - GAP),
      };
      attempts.push(`run ${attempt}: ${Object.entries(offs).map(([k, v]) => `${k} off by ${v.toFixed(2)} ms`).join(', ')}`);
      if (Object.values(offs).every((v) => v < 2)) break;
    }
    console.log(attempts.join('\n'));
    expect(attempts.at(-1)).toMatch(/^run \d: ttft off by [01]\.\d\d ms, itl off by [01]\.\d\d ms, pace off by [01]\.\d\d ms, itlVsGap off by [01]\.\d\d ms, tpotVsGap off by [01]\.\d\d ms$/);
  }, 120_000);

  it('measures TTFT and ITL medians within 2 ms at concurrency 200, and reports its own timing error', async () => {
    // This machine's 2 cores are shared with other test files running in parallel; a neighbour that
    // saturates both for the whole run delays every byte's timestamp. Up to three runs, each reported;
    // the check is that the generator can hold 2 ms with 200 open streams, not that neighbours are quiet.
    const attempts: string[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const { result, summary, trueTtft, trueItl } = await measure(200, 800, LONG_TOKENS);
      expect(summary.failed).toBe(0);
      expect(summary.peakConcurrency).toBeGreaterThan(150);
      expect(result.timing.shards).toBeGreaterThanOrEqual(1);
      expect(result.timing.loopDelayMaxMs).toBeGreaterThanOrEqual(result.timing.loopDelayP50Ms);
      const ttftOff = Math.abs(summary.ttftMs!.median - trueTtft.median);
      const itlOff = Math.abs(summary.itlMs!.median - trueItl.median);
      attempts.push(`run ${attempt}: TTFT off by ${ttftOff.toFixed(2)} ms, ITL by ${itlOff.toFixed(2)} ms, loop delay p99 ${result.timing.loopDelayP99Ms.toFixed(1)} ms`);
      if (ttftOff < 2 && itlOff < 2) break;
    }
    console.log(attempts.join('\n'));
    expect(attempts.at(-1)).toMatch(/TTFT off by [01]\.\d\d ms, ITL by [01]\.\d\d ms/);
  }, 240_000);
});
