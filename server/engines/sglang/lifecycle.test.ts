import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, expect, test } from 'vitest';
import { scrapeEngineLoad } from '../registry';
import { testLaunch } from '../testing/launch';
import { doubleRunner } from '../testing/run-double';
import { probeOpenAiServer } from '../vllm/readiness';
import { sglangCommand } from './command';
import { sglangDriver } from './driver';

// The SGLang TEST DOUBLE stands in for the Python that runs `-m sglang.launch_server`.
const DOUBLE_PYTHON = path.resolve(import.meta.dirname, '../testing/bin/sglang-python');
const KEY = 'enc-replica-lifecycle';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-sglang-life-'));
const runner = doubleRunner(sglangDriver, (launch) => sglangCommand(launch, DOUBLE_PYTHON, dir));
afterEach(() => runner.stopAll());
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const start = (spec: Record<string, unknown>, gpus: number[], env: Record<string, string> = {}) =>
  runner.start((port) => testLaunch('sglang', spec, gpus, { port, apiKey: KEY, servedName: 'qwen-sgl' }), { SGLANG_DOUBLE_LOAD_MS: '600', ...env });
const auth = { authorization: `Bearer ${KEY}` };

test('loading → ready once /v1/models lists the served name; chat behind the secret; SGLang metrics', async () => {
  const { url } = await start({ tp: 2, maxModelLen: 8192 }, [0, 1]);
  expect(await runner.statesUntil(url, 'ready', 'qwen-sgl', KEY)).toEqual(['loading', 'ready']);
  expect(await (await fetch(`${url}/get_model_info`, { headers: auth })).json()).toEqual({ model_path: '/models/Qwen2.5-7B-Instruct', tokenizer_path: '/models/Qwen2.5-7B-Instruct', is_generation: true });

  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ model: 'qwen-sgl', messages: [{ role: 'user', content: 'one two three' }], max_tokens: 4 }),
  });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { usage: unknown }).usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
  expect(await scrapeEngineLoad('sglang', url)).toMatchObject({ running: 0, waiting: 0, promptTokensTotal: 3, generationTokensTotal: 4 });
});

test('every route but /health and /metrics needs the secret (read from --config, never argv); another secret fails readiness', async () => {
  const { url, child } = await start({}, [0], { SGLANG_DOUBLE_LOAD_MS: '0' });
  await runner.statesUntil(url, 'ready', 'qwen-sgl', KEY);
  expect((child.spawnargs ?? []).join(' ')).not.toContain(KEY);
  for (const open of ['/health', '/metrics']) expect((await fetch(`${url}${open}`)).status, open).toBe(200);
  for (const guarded of ['/get_model_info', '/v1/models']) {
    const r = await fetch(`${url}${guarded}`, { headers: { authorization: 'Bearer wrong' } });
    expect([r.status, await r.json()], guarded).toEqual([401, { error: 'Unauthorized' }]);
  }
  expect(await probeOpenAiServer(url, 'qwen-sgl', { apiKey: 'another-master-key' })).toEqual({ readiness: 'failed', reason: 'the engine refused the replica secret (401): it was started with another one' });
});

test.each([
  ['the weights leave no KV cache', {}, [0], { SGLANG_DOUBLE_FAIL: 'not-enough-memory' }, /no room for SGLang's KV cache/],
  ['TP does not divide the heads', { tp: 3 }, [0, 1, 2], { SGLANG_DOUBLE_ATTENTION_HEADS: '32' }, /TP 3 does not divide the model's 32/],
  ['a GPU missing', { tp: 2 }, [0, 1], { CUDA_VISIBLE_DEVICES: '0' }, /asked for more GPUs than it could see/],
])('a failed start (%s) exits non-zero and diagnose() explains it', async (_, spec, gpus, env, expected) => {
  const { child, url } = await start(spec, gpus, { SGLANG_DOUBLE_LOAD_MS: '50', ...env });
  const result = await child;
  expect(result.exitCode).toBe(1);
  expect(await sglangDriver.probeReady(url, 'qwen-sgl', undefined, KEY)).toBe('loading');
  expect(sglangDriver.diagnose(result.all as string)).toMatch(expected);
});
