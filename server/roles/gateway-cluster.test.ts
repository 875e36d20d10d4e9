import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { freePort } from '../core/net/free-port';
import { createApiKey } from '../security/api-keys';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { makeDeployment, makeUser } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { childProcesses } from '../testing/processes';
import { until } from '../testing/until';

/**
 * `enclave gateway` with GATEWAY_WORKERS=2, as an operator runs it: two worker processes on one port,
 * /metrics summed over both, a worker killed with -9 replaced while the other keeps answering, and
 * neither a SIGTERM nor a SIGKILL of the primary leaves a worker behind.
 */
const bin = path.resolve(__dirname, '../../bin/enclave.mjs');
let t: TestDatabase;
let engine: OpenAIDouble;
let model: string;
let key: string;
let port: number;
let proc: ResultPromise | undefined;
let output = '';

/** The primary's worker processes (tsx's esbuild service is a child of it too). */
const childPids = (pid: number) => childProcesses(pid).filter((c) => c.args.includes('enclave.mjs gateway')).map((c) => c.pid);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function startGateway() {
  output = '';
  proc = execa(process.execPath, [bin, 'gateway'], {
    env: {
      DATABASE_URL: t.url,
      ENCLAVE_MASTER_KEY: randomBytes(32).toString('hex'),
      ENCLAVE_DATA_DIR: '/tmp/enclave-gateway-cluster-test',
      REDIS_PREFIX: testRedisPrefix('gwcluster'),
      GATEWAY_PORT: String(port),
      HOST: '127.0.0.1',
      GATEWAY_WORKERS: '2',
      GATEWAY_RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: 'warn',
    },
    reject: false,
    all: true,
  });
  proc.all!.on('data', (d) => (output += d));
  await until('the gateway workers to listen', async () => {
    if (proc!.exitCode !== null) throw new Error(`gateway exited:\n${output}`);
    return /Enclave is ready on http:\/\/localhost:\d+ \(gateway, 2 workers\)/.test(output);
  }, 90_000, 200);
}

async function chat(): Promise<number> {
  // A new connection each time, so the primary's round-robin spreads them over the workers.
  const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
    signal: AbortSignal.timeout(15_000),
  });
  await res.arrayBuffer();
  return res.status;
}

async function requestsCounted(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { connection: 'close' } })).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('enclave_gateway_e2e_seconds_count'))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

beforeAll(async () => {
  t = await createTestDatabase('gwcluster');
  engine = await startOpenAIDouble({ tokens: 3 });
  model = (await makeDeployment(t.db, {}, [engine.url])).deployment.name;
  const user = await makeUser(t.db, { role: 'admin' });
  key = (await createApiKey(t.db, { userId: user.id, name: 'cluster', maxConcurrent: 0 })).key;
  port = await freePort();
  await startGateway();
}, 120_000);

afterAll(async () => {
  if (proc && proc.exitCode === null) {
    proc.kill('SIGKILL');
    await proc;
  }
  await engine?.close();
  await t?.drop();
});

test('two workers share the port; /metrics counts the requests of both', async () => {
  const workers = childPids(proc!.pid!);
  expect(workers).toHaveLength(2);
  const statuses = [];
  for (let i = 0; i < 12; i++) statuses.push(await chat());
  expect(statuses.every((s) => s === 200)).toBe(true);
  // Each scrape lands on one worker; the figure is the cluster's, so it never goes back.
  expect(await requestsCounted()).toBe(12);
  expect(await requestsCounted()).toBe(12);
}, 60_000);

test('a worker killed with -9 is replaced, and the other answers meanwhile', async () => {
  const [victim, survivor] = childPids(proc!.pid!);
  process.kill(victim!, 'SIGKILL');
  // Connections the kernel handed the victim die with it; once the primary has seen the exit, every new
  // one goes to the survivor until the replacement listens.
  await until('the primary to notice', async () => /gateway worker exited; starting another/.test(output), 10_000, 50);
  for (let i = 0; i < 6; i++) expect(await chat()).toBe(200);
  const replaced = await until('a new worker', async () => {
    const now = childPids(proc!.pid!);
    return now.length === 2 && !now.includes(victim!) && now.includes(survivor!) ? now : undefined;
  }, 30_000, 100);
  expect(replaced).toHaveLength(2);
  for (let i = 0; i < 6; i++) expect(await chat()).toBe(200);
}, 90_000);

test('SIGTERM stops every worker; after SIGKILL of the primary its workers stop by themselves', async () => {
  let workers = childPids(proc!.pid!);
  proc!.kill('SIGTERM');
  const result = await proc!;
  expect(result.exitCode).toBe(0);
  await until('the workers to exit', async () => workers.every((p) => !alive(p)), 30_000);

  await startGateway();
  workers = childPids(proc!.pid!);
  expect(workers).toHaveLength(2);
  proc!.kill('SIGKILL');
  await proc!;
  await until('orphaned workers to stop', async () => workers.every((p) => !alive(p)), 30_000);
}, 180_000);
