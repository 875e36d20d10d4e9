import { afterAll, beforeAll, expect, it } from 'vitest';
import { startOpenAIDouble, type OpenAIDouble } from '../../testing/openai-double';
import { runLoadTest } from './run';
import { loadTestSpecSchema } from './spec';

let engine: OpenAIDouble;
beforeAll(async () => {
  engine = await startOpenAIDouble({ firstTokenMs: 20, interTokenMs: 2, tokens: 4 });
});
afterAll(() => engine?.close());

const target = () => ({ url: `${engine.url}/v1`, model: 'double', headers: {} });
const base = { mode: 'sweep', concurrency: 8, requests: 16, warmup: 3, workload: { kind: 'random', inputTokens: 8, outputTokens: 4 } } as const;

it('sweeps: synchronous, throughput, then rates between the two; warm-up never measured', async () => {
  const spec = loadTestSpecSchema.parse({ ...base, objectives: { e2eMs: 10_000 }, sweep: { stages: 2 } });
  const seen: string[] = [];
  const r = await runLoadTest(spec, target(), { onStage: (s) => seen.push(s.kind) });
  expect(seen).toEqual(['synchronous', 'throughput', 'rate', 'rate']);
  expect(r.stages.map((s) => s.met)).toEqual([true, true, true, true]);
  const [sync, thr, r1, r2] = r.stages;
  // Rates evenly spaced strictly between the two measured throughputs.
  const low = sync!.summary.requestThroughput;
  const high = thr!.summary.requestThroughput;
  expect(high).toBeGreaterThan(low);
  expect(r1!.rate).toBeCloseTo(low + (high - low) / 3, 6);
  expect(r2!.rate).toBeCloseTo(low + (2 * (high - low)) / 3, 6);
  expect(r.samples).toHaveLength(64);
  expect(r.samples.every((s) => s.seq >= 0)).toBe(true);
  expect(new Set(r.samples.map((s) => s.stage))).toEqual(new Set([0, 1, 2, 3]));
}, 120_000);

it('stops the sweep at the first rate that breaks the objectives', async () => {
  // A TTFT objective below the double's 20 ms first-token delay: every rate stage breaks it.
  const spec = loadTestSpecSchema.parse({ ...base, objectives: { ttftMs: 5 }, sweep: { stages: 4 } });
  const r = await runLoadTest(spec, target());
  expect(r.stages.map((s) => s.kind)).toEqual(['synchronous', 'throughput', 'rate']);
  expect(r.stages[2]!.met).toBe(false);
  expect(r.summary.goodput).toBe(0);
}, 120_000);
