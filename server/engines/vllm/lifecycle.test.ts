import { execa, type ResultPromise } from 'execa';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { deploymentSpecSchema } from '../deployment-spec';
import { freePort } from '../../core/net/free-port';
import { vllmCommand } from './command';
import { vllmDriver } from './driver';
import { scrapeMetrics } from './metrics';
import { probeOpenAiServer } from './readiness';
import { until } from '../../testing/until';

// The vLLM TEST DOUBLE stands in for `vllm`: the driver's real command line runs against it.
const DOUBLE_BIN = path.resolve(import.meta.dirname, '../testing/bin/vllm');
const running: ResultPromise[] = [];
const KEY = 'enc-replica-lifecycle';
const auth = { authorization: `Bearer ${KEY}` };

afterEach(async () => {
  for (const p of running.splice(0)) {
    p.kill('SIGKILL');
    await p.catch(() => {});
  }
});

async function start(spec: Record<string, unknown>, gpuIndices: number[], env: Record<string, string> = {}) {
  const port = await freePort();
  const cmd = vllmCommand(
    {
      deploymentId: 'd',
      replicaId: 'r',
      servedName: 'llama-8b',
      modelLocation: '/models/Llama-3.1-8B-Instruct',
      spec: deploymentSpecSchema.parse({ engine: 'vllm', ...spec }),
      gpuIndices,
      host: '127.0.0.1',
      port,
      apiKey: KEY,
    },
    DOUBLE_BIN,
  );
  const child = execa(cmd.file, cmd.args, { env: { ...cmd.env, VLLM_DOUBLE_LOAD_MS: '700', ...env }, reject: false, all: true });
  running.push(child);
  return { url: `http://127.0.0.1:${port}`, child };
}

/** The driver's readiness states, each once, until it reads `want`. */
async function statesUntil(url: string, want: string, name = 'llama-8b') {
  const seen: string[] = [];
  const reached = async () => {
    const r = await vllmDriver.probeReady(url, name, undefined, KEY);
    if (seen.at(-1) !== r) seen.push(r);
    return r === want;
  };
  await until(want, reached, 15_000).catch(() => {
    throw new Error(`never ${want}; saw ${seen.join(' → ')}`);
  });
  return seen;
}

test('loading (connection refused) → ready; it then streams chat and reports vLLM metrics', async () => {
  const { url } = await start({ tp: 2, loraAdapters: [{ name: 'sql', path: '/adapters/sql' }] }, [0, 1]);
  expect(await statesUntil(url, 'ready')).toEqual(['loading', 'ready']);

  const models = (await (await fetch(`${url}/v1/models`, { headers: auth })).json()) as { data: { id: string; parent: string | null }[] };
  expect(models.data.map((m) => [m.id, m.parent])).toEqual([['llama-8b', null], ['sql', 'llama-8b']]);

  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ model: 'llama-8b', messages: [{ role: 'user', content: 'one two three' }], stream: true, stream_options: { include_usage: true } }),
  });
  const events = (await res.text()).split('\n\n').filter(Boolean);
  expect(events.at(-1)).toBe('data: [DONE]');
  expect(JSON.parse(events.at(-2)!.slice(6)).usage).toEqual({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });

  const load = await scrapeMetrics(url);
  expect(load).toMatchObject({ running: 0, waiting: 0, promptTokensTotal: 3, generationTokensTotal: 5 });
});

test('the replica secret reaches vLLM through VLLM_API_KEY: /v1 answers 401 without it, /health and /metrics stay open', async () => {
  const { url, child } = await start({}, [0], { VLLM_DOUBLE_LOAD_MS: '0' });
  await statesUntil(url, 'ready');
  // Nothing on the command line: any local user can read /proc/PID/cmdline.
  expect((child.spawnargs ?? []).join(' ')).not.toContain(KEY);
  const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { authorization: KEY }];
  for (const headers of attempts) {
    expect((await fetch(`${url}/v1/models`, { headers })).status).toBe(401);
    const post = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"model":"llama-8b","messages":[]}' });
    expect([post.status, await post.json()]).toEqual([401, { error: 'Unauthorized' }]);
  }
  expect((await fetch(`${url}/v1/models`, { headers: { authorization: `bearer ${KEY}` } })).status).toBe(200);
  expect((await fetch(`${url}/health`)).status).toBe(200);
  expect((await fetch(`${url}/metrics`)).status).toBe(200);
  expect(await probeOpenAiServer(url, 'llama-8b', { apiKey: 'another-master-key' })).toEqual({ readiness: 'failed', reason: 'the engine refused the replica secret (401): it was started with another one' });
});

test('a port bound early but silent (as real vLLM while loading weights) is still loading', async () => {
  const { url } = await start({}, [0], { VLLM_DOUBLE_BIND: 'early', VLLM_DOUBLE_LOAD_MS: '3000' });
  await until('the port to be bound', () => portOpen(url), 5_000, 50);
  expect(await probeOpenAiServer(url, 'llama-8b', { timeoutMs: 200 })).toEqual({ readiness: 'loading', reason: 'the engine does not answer yet' });
  await statesUntil(url, 'ready');
});

test('a server that serves another name has failed, with the reason', async () => {
  const { url } = await start({}, [0], { VLLM_DOUBLE_LOAD_MS: '0' });
  await statesUntil(url, 'ready');
  expect(await probeOpenAiServer(url, 'other-model', { apiKey: KEY })).toEqual({ readiness: 'failed', reason: "the engine serves 'llama-8b', not 'other-model'" });
});

test.each([
  ['out of memory', {}, [0], { VLLM_DOUBLE_FAIL: 'oom' }, /ran out of memory while starting/],
  ['KV cache too small', { maxModelLen: 8192 }, [0], { VLLM_DOUBLE_FAIL: 'kv-cache' }, /At most max_model_len 5088 fits/],
  ['TP does not divide the heads', { tp: 3 }, [0, 1, 2], { VLLM_DOUBLE_ATTENTION_HEADS: '32' }, /TP 3 does not divide the model's 32 attention heads/],
  ['a GPU missing', { tp: 2 }, [0, 1], { CUDA_VISIBLE_DEVICES: '0' }, /needs 2 GPUs \(TP x PP\) but the engine could see only 1/],
])('a failed start (%s) exits non-zero and diagnose() explains it', async (_, spec, gpus, env, expected) => {
  const { child, url } = await start(spec, gpus, { VLLM_DOUBLE_LOAD_MS: '100', ...env });
  const result = await child;
  expect(result.exitCode).toBe(1);
  expect(await vllmDriver.probeReady(url, 'llama-8b', undefined, KEY)).toBe('loading');
  expect(vllmDriver.diagnose(result.all as string)).toMatch(expected);
});

async function portOpen(url: string): Promise<boolean> {
  const { port } = new URL(url);
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.connect(Number(port), '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}
