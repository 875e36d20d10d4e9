import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { scrapeEngineLoad } from '../registry';
import { testLaunch } from '../testing/launch';
import { doubleRunner } from '../testing/run-double';
import { tgiCommand } from './command';
import { tgiDriver } from './driver';
import { probeTgi } from './readiness';

// The TGI TEST DOUBLE stands in for `text-generation-launcher`: the driver's real command line runs against it.
const DOUBLE_BIN = path.resolve(import.meta.dirname, '../testing/bin/text-generation-launcher');
const KEY = 'enc-replica-Lifecycle';
const runner = doubleRunner(tgiDriver, (launch) => tgiCommand(launch, DOUBLE_BIN));
afterEach(() => runner.stopAll());

const start = (spec: Record<string, unknown>, gpus: number[], env: Record<string, string> = {}) =>
  runner.start((port) => testLaunch('tgi', spec, gpus, { port, apiKey: KEY, servedName: 'qwen-tgi' }), { TGI_DOUBLE_LOAD_MS: '600', ...env });
const chat = (url: string, headers: Record<string, string>) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'qwen-tgi', messages: [{ role: 'user', content: 'one two three' }], stream: true, stream_options: { include_usage: true } }),
  });

test('loading (nothing listens while shards warm up) → ready; it streams chat behind the secret and reports TGI metrics', async () => {
  const { url } = await start({ tp: 2, maxModelLen: 4096 }, [0, 1]);
  expect(await runner.statesUntil(url, 'ready', 'qwen-tgi', KEY)).toEqual(['loading', 'ready']);

  const info = (await (await fetch(`${url}/info`)).json()) as { model_id: string; max_total_tokens: number; max_input_tokens: number };
  expect(info).toMatchObject({ model_id: '/models/Qwen2.5-7B-Instruct', max_total_tokens: 4096, max_input_tokens: 4095 });

  expect((await chat(url, {})).status).toBe(401);
  const res = await chat(url, { authorization: `Bearer ${KEY}` });
  const events = (await res.text()).split('\n\n').filter(Boolean);
  expect(events.at(-1)).toBe('data: [DONE]');
  expect(JSON.parse(events.at(-2)!.slice(6)).usage).toEqual({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });

  expect(await scrapeEngineLoad('tgi', url)).toMatchObject({ running: 0, waiting: 0, promptTokensTotal: 3, generationTokensTotal: 5 });
});

test("what TGI leaves open stays open, its generation routes take the secret case-blind, and another secret fails readiness", async () => {
  const { url, child } = await start({}, [0], { TGI_DOUBLE_LOAD_MS: '0' });
  await runner.statesUntil(url, 'ready', 'qwen-tgi', KEY);
  expect((child.spawnargs ?? []).join(' ')).not.toContain(KEY);
  for (const open of ['/health', '/info', '/metrics', '/v1/models']) expect((await fetch(`${url}${open}`)).status, open).toBe(200);
  expect((await chat(url, { authorization: 'Bearer wrong' })).status).toBe(401);
  expect((await chat(url, { authorization: `bearer ${KEY.toLowerCase()}` })).status).toBe(200);
  expect(await probeTgi(url, { apiKey: 'another-master-key' })).toEqual({ readiness: 'failed', reason: 'the engine refused the replica secret (401): it was started with another one' });
});

test.each([
  ['out of memory at warm-up', {}, [0], { TGI_DOUBLE_FAIL: 'warmup-oom' }, /warm-up ran out of GPU memory on a prefill of 4096 tokens/],
  ['TP does not divide the vocabulary', { tp: 3 }, [0, 1, 2], { TGI_DOUBLE_VOCAB: '32000' }, /TP 3 does not divide a 32000-wide weight/],
  ['the shards\' port taken', { tp: 2 }, [0, 1], { TGI_DOUBLE_FAIL: 'master-port' }, /Port 29500, which the shards use/],
  ['a GPU missing', { tp: 2 }, [0, 1], { CUDA_VISIBLE_DEVICES: '0' }, /asked for more GPUs than it could see/],
])('a failed start (%s) exits non-zero and diagnose() explains it', async (_, spec, gpus, env, expected) => {
  const { child, url } = await start(spec, gpus, { TGI_DOUBLE_LOAD_MS: '50', ...env });
  const result = await child;
  expect(result.exitCode).toBe(1);
  expect(await tgiDriver.probeReady(url, 'qwen-tgi', undefined, KEY)).toBe('loading');
  expect(tgiDriver.diagnose(result.all as string)).toMatch(expected);
});
