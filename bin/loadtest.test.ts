import { afterAll, beforeAll, expect, it } from 'vitest';
import { startOpenAIDouble, type OpenAIDouble } from '../server/testing/openai-double';
import { runEnclave } from './testing/cli';

let engine: OpenAIDouble;
beforeAll(async () => {
  engine = await startOpenAIDouble({ firstTokenMs: 20, interTokenMs: 5, tokens: 6 });
});
afterAll(() => engine?.close());

const DIST = ['mean', 'median', 'p90', 'p95', 'p99'];

it('prints the summary as JSON with the agreed keys (concurrency mode)', async () => {
  const r = await runEnclave(['loadtest', '--target', `${engine.url}/v1`, '--model', 'double', '--concurrency', '4', '--requests', '12', '--input-tokens', '20', '--output-tokens', '6', '--json']);
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  for (const k of ['ttft_ms', 'tpot_ms', 'itl_ms', 'e2e_ms']) expect(Object.keys(out[k])).toEqual(DIST);
  expect(out).toMatchObject({ completed: 12, failed: 0 });
  expect(out.request_throughput).toBeGreaterThan(0);
  // 6 tokens per reply over the run's duration.
  expect(out.output_token_throughput).toBeCloseTo(out.request_throughput * 6, 1);
  expect(out.ttft_ms.median).toBeGreaterThanOrEqual(20);
  expect(engine.requests.at(-1)!.body).toMatchObject({ model: 'double', max_tokens: 6, stream: true, stream_options: { include_usage: true } });
}, 60_000);

it('runs rate mode with burstiness, and counts failures from an unreachable target', async () => {
  const ok = await runEnclave(['loadtest', '--target', `${engine.url}/v1`, '--model', 'double', '--rate', '40', '--burstiness', '0.5', '--requests', '10', '--json']);
  expect(ok.exitCode).toBe(0);
  expect(JSON.parse(ok.stdout)).toMatchObject({ completed: 10, failed: 0 });
  const down = await runEnclave(['loadtest', '--target', 'http://127.0.0.1:9/v1', '--model', 'x', '--concurrency', '2', '--requests', '3', '--json']);
  expect(down.exitCode).toBe(1);
  expect(JSON.parse(down.stdout)).toMatchObject({ completed: 0, failed: 3, ttft_ms: null });
}, 60_000);

it('answers bad flags with a usage error, not a stack trace', async () => {
  const both = await runEnclave(['loadtest', '--target', engine.url, '--model', 'm', '--concurrency', '1', '--rate', '2', '--requests', '1']);
  expect([both.exitCode, both.stderr.split('\n')[0]]).toEqual([2, 'enclave: give one of --concurrency N or --rate R']);
  const bad = await runEnclave(['loadtest', '--target', 'ftp://x', '--model', 'm', '--concurrency', '1', '--requests', '1']);
  expect(bad.stderr).toMatch(/--target must be an http/);
  const zero = await runEnclave(['loadtest', '--target', engine.url, '--model', 'm', '--concurrency', '0', '--requests', '1']);
  expect([zero.exitCode, zero.stderr]).toEqual([2, expect.stringMatching(/^enclave: --concurrency: /)]);
}, 60_000);
