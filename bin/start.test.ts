import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { freePort } from '../server/core/net/free-port';
import { descendantPids } from '../server/testing/processes';
import { until } from '../server/testing/until';
import { callStreamed } from '../server/api/testing/stream-client';
import { transformer } from '../server/api/transformer';

/**
 * The product as a user starts it: `enclave start` with no DATABASE_URL (a real embedded PostgreSQL
 * under the data directory), the real model, admin commands run while it runs, a restart that keeps
 * history, and a SIGTERM that leaves no process behind.
 */
const bin = path.resolve(__dirname, 'enclave.mjs');
const modelsDir = path.resolve(__dirname, '../models');
let dataDir: string;
let port: number;
let proc: ResultPromise | undefined;
let output = '';

const baseEnv = () => ({
  PORT: String(port),
  HOST: '127.0.0.1',
  ENCLAVE_DATA_DIR: dataDir,
  ENCLAVE_MODELS_DIR: modelsDir,
  REDIS_PREFIX: `enclave-test-start-${process.pid}`,
  ENCLAVE_ADMIN_EMAIL: 'admin@example.test',
  ENCLAVE_ADMIN_PASSWORD: 'admin password 1',
  ENCLAVE_SECURE_COOKIES: 'false',
  LOG_LEVEL: 'warn',
  DATABASE_URL: '',
});

async function start() {
  output = '';
  proc = execa(process.execPath, [bin, 'start'], { env: baseEnv(), reject: false, all: true });
  proc.all!.on('data', (d) => (output += d));
  const deadline = Date.now() + 240_000;
  const started = async () => {
    if (proc!.exitCode !== null) throw new Error(`start failed:\n${output}`);
    return /Enclave is ready on/.test(output);
  };
  await until('Enclave to be ready', started, 240_000, 200).catch((e: Error) => {
    throw e.message.startsWith('timed out') ? new Error(`start failed (${e.message}):\n${output}`) : e;
  });
  // The engine loads in the background: wait until the model has a ready replica (engines are staff-only detail).
  const cookie = await signIn();
  await until('the engine to be ready', async () => {
    const health = (await (await fetch(`http://127.0.0.1:${port}/api/health`, { headers: { cookie } })).json()) as { engines: { status: string; health: { ok: boolean } }[] };
    return health.engines.some((e) => e.status === 'ready' && e.health.ok);
  }, deadline - Date.now(), 300);
}

async function stop() {
  const p = proc!;
  p.kill('SIGTERM');
  const result = await p;
  proc = undefined;
  return result;
}

/** PIDs of processes whose command line mentions the data directory or this test's engines. */
function survivors(pids: number[]): number[] {
  return pids.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
}

const admin = (...args: string[]) => execa(process.execPath, [bin, ...args], { env: baseEnv(), reject: false });

async function signIn(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/api/trpc/auth.signIn`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'admin@example.test', password: 'admin password 1' }),
  });
  expect(res.status).toBe(200);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

async function trpc(cookie: string, kind: 'query' | 'mutation', name: string, input?: unknown) {
  const url = `http://127.0.0.1:${port}/api/trpc/${name}` + (kind === 'query' && input !== undefined ? `?input=${encodeURIComponent(JSON.stringify(input))}` : '');
  const res = await fetch(url, kind === 'query' ? { headers: { cookie } } : { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(input ?? null) });
  const body = (await res.json()) as { result?: { data: any }; error?: unknown };
  if (!res.ok) throw new Error(`${name}: ${res.status} ${JSON.stringify(body.error)}`);
  return transformer.output.deserialize(body.result!.data) as any;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-start-'));
  fs.chmodSync(dataDir, 0o711);
  port = await freePort();
});
afterAll(async () => {
  if (proc) await stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('start, chat, admin commands while running, restart with history, rotate the master key, stop cleanly', async () => {
  await start();
  // Anonymous callers (probes, load balancers) learn the status only, never where the engines listen.
  expect(await (await fetch(`http://127.0.0.1:${port}/api/health`)).json()).toEqual({ status: 'ok' });
  const cookie = await signIn();
  const health = (await (await fetch(`http://127.0.0.1:${port}/api/health`, { headers: { cookie } })).json()) as Record<string, any>;
  expect(health).toMatchObject({ status: 'ok', postgres: { ok: true }, redis: { ok: true } });
  expect(health.engines[0]).toMatchObject({ deployment: 'stories260K', engine: 'llamacpp', status: 'ready', health: { ok: true } });
  const login = await fetch(`http://127.0.0.1:${port}/login`);
  expect(login.status).toBe(200);
  expect(login.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  const page = await fetch(`http://127.0.0.1:${port}/`, { redirect: 'manual' });
  expect([page.status, page.headers.get('location')]).toEqual([302, '/login?next=%2F']);

  // A conversation through the browser's API, streamed from the real engine.
  const { id } = await trpc(cookie, 'mutation', 'conversations.create', {});
  const chat = await callStreamed(
    `http://127.0.0.1:${port}`,
    'chat.send',
    { conversationId: id, model: 'stories260K', parentId: null, content: 'Tell me about the secret word zebra-42', maxTokens: 24 },
    { cookie },
  );
  expect(chat.status, JSON.stringify(chat.error)).toBe(200);
  expect(chat.events.map((e) => e.event)).toContain('delta');
  expect(chat.events.at(-1)?.event).toBe('done');

  // Admin commands work against the embedded database while start runs.
  const key = await admin('keys', 'create', '--name', 'sdk');
  expect(key.exitCode, key.stderr).toBe(0);
  const apiKey = key.stdout.trim().split('\n').at(-1)!;
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey });
  const completion = await client.chat.completions.create({ model: 'stories260K', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8 });
  expect(completion.usage!.completion_tokens).toBeGreaterThan(0);

  // /metrics is valid Prometheus text with default and gateway metrics.
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  expect(metrics).toMatch(/^process_cpu_user_seconds_total \d/m);
  expect(metrics).toMatch(/^enclave_gateway_ttft_seconds_bucket\{.*model="stories260K".*\} \d+/m);

  // Rotating the master key while running keeps everything readable, before and after a restart.
  const rotated = await admin('keys', 'rotate-master');
  expect(rotated.exitCode, rotated.stderr).toBe(0);
  expect(rotated.stdout).toMatch(/Re-wrapped 1 data key/);

  const pids = [proc!.pid!, ...descendantPids(proc!.pid!)];
  expect(pids.length).toBeGreaterThanOrEqual(3); // enclave, postgres, the engine
  const result = await stop();
  expect(result.exitCode).toBe(0);
  await until('every process to exit', async () => survivors(pids).length === 0, 2_000).catch(() => {}); // the check below names any left
  const left = survivors(pids).map((pid) => `${pid}: ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')}`);
  expect(left).toEqual([]);

  // The message is encrypted on disk: no plaintext in PostgreSQL's files.
  const grep = execa('grep', ['-r', '-l', 'zebra-42', path.join(dataDir, 'postgres')], { reject: false });
  expect((await grep).stdout).toBe('');

  await start();
  const again = await signIn();
  const list = await trpc(again, 'query', 'conversations.list', {});
  expect(list.map((c: { id: string }) => c.id)).toContain(id);
  const conversation = await trpc(again, 'query', 'conversations.get', { id });
  expect(conversation.messages.find((m: { role: string }) => m.role === 'user').content).toBe('Tell me about the secret word zebra-42');
  expect(conversation.messages.some((m: { role: string; content: string }) => m.role === 'assistant' && m.content.length > 0)).toBe(true);
  // The audit chain and its checkpoints (re-signed by the rotation) still hold across it all.
  const audit = await admin('audit', 'verify');
  expect(audit.exitCode, audit.stdout + audit.stderr).toBe(0);
  expect(audit.stdout).toMatch(/^The audit log is intact: \d+ row\(s\) chained \(#1 to #\d+\); [1-9]\d* checkpoint\(s\) in .* match/);
  await stop();
}, 600_000);
