import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { and, eq, like, ne } from 'drizzle-orm';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startProduct, type RunningProduct } from '../bin/testing/product';
import { streamedEvents } from '../server/api/testing/stream-client';
import { transformer } from '../server/api/transformer';
import { freePort } from '../server/core/net/free-port';
import { apiKeys, auditLog, deploymentReplicas, deployments, jobs, loadTestSamples, loadTests, messages, modelVersions } from '../server/db/schema';
import { isAlive } from '../server/process/detached-process';
import { createEmptyTestDatabase, testRedisPrefix, type TestDatabase } from '../server/testing/database';
import { until } from '../server/testing/until';
import { launchBrowser, newContext, repoRoot, sendAndWait, signIn, waitForModel } from './harness';
import { startTcpBalancer, type TcpBalancer } from './tcp-balancer';

/**
 * Every role replicated, on one PostgreSQL and one Redis: 2 web, 2 gateway and 2 worker processes and an
 * agent, each `node bin/enclave.mjs ROLE` as an operator starts it, with a TCP balancer in front of the
 * webs (the browser's and the API's way in) and one in front of the gateways (the webs' and load tests'
 * way to /v1). While chats stream, a GGUF quantization and two load tests run and the stories260K
 * deployment scales up, one web, one gateway, the worker running the quantization and the agent are
 * killed with SIGKILL. Every piece of work then finishes exactly once (counted in the rows), nothing is
 * lost, and the browser carries on through the web process that is left.
 */
const ADMIN = { email: 'admin@example.test', password: `e2e-${randomBytes(9).toString('base64url')}` };
const LOAD = { mode: 'rate', rate: 4, requests: 80, warmup: 0, workload: { kind: 'random', inputTokens: 16, outputTokens: 16 } };
let t: TestDatabase;
let dataDir: string;
let browser: Browser | undefined;
const balancers: TcpBalancer[] = [];
const running = new Map<string, RunningProduct>();
/** Each process's output, killed ones included, written to test-results/ at the end. */
const outputs = new Map<string, () => string>();
const enginePids = new Set<number>();

beforeAll(async () => {
  t = await createEmptyTestDatabase('replicas');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-e2e-replicas-'));
});
afterAll(async () => {
  await browser?.close();
  // SIGTERM each (the ordered shutdown), then whatever is left goes with its group.
  await Promise.all([...running.values()].map((p) => Promise.race([p.stop(), new Promise((r) => setTimeout(r, 20_000))]).then(() => p.killGroup().catch(() => {}))));
  fs.mkdirSync(path.join(repoRoot, 'test-results'), { recursive: true });
  for (const [name, output] of outputs) fs.writeFileSync(path.join(repoRoot, 'test-results', `replicas-${name}.log`), output());
  for (const pid of enginePids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await Promise.all(balancers.map((b) => b.close()));
  await t?.drop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}, 120_000);

async function trpc(base: string, cookie: string, kind: 'query' | 'mutation', name: string, input?: unknown) {
  const url = `${base}/api/trpc/${name}` + (kind === 'query' && input !== undefined ? `?input=${encodeURIComponent(JSON.stringify(transformer.input.serialize(input)))}` : '');
  const res = await fetch(url, kind === 'query' ? { headers: { cookie } } : { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(transformer.input.serialize(input ?? null)) });
  const body = (await res.json()) as { result?: { data: unknown }; error?: unknown };
  if (!res.ok) throw new Error(`${name}: ${res.status} ${JSON.stringify(body.error)}`);
  return transformer.output.deserialize(body.result!.data as never) as any;
}

/** A chat turn streamed through one web process, collected in the background: its events in order. */
function streamChat(base: string, cookie: string, conversationId: string) {
  const turn = { text: '', events: [] as string[], replyId: '', ended: undefined as Promise<void> | undefined };
  turn.ended = (async () => {
    try {
      for await (const e of streamedEvents(base, 'chat.send', { conversationId, parentId: null, content: 'Once upon a time', model: 'stories260K', maxTokens: 3000 }, { cookie })) {
        turn.events.push(e.event);
        if (e.event === 'meta') turn.replyId = e.data.assistantMessageId;
        if (e.event === 'delta') turn.text += e.data.text;
      }
    } catch {
      turn.events.push('cut'); // the connection died with its web process
    }
  })();
  return turn;
}

/** Seconds since the test began, per phase: where the time went when a slow machine nears a timeout. */
const began = Date.now();
const mark = (what: string) => console.log(`[replicas] ${((Date.now() - began) / 1000).toFixed(1)} s: ${what}`);

test('2 web + 2 gateway + 2 worker processes and an agent: one of each killed mid-work, every piece of work finishes once and the browser carries on', async () => {
  const [webA, webB, gwA, gwB, agentPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const webs = await startTcpBalancer([webA, webB]);
  const gateways = await startTcpBalancer([gwA, gwB]);
  balancers.push(webs, gateways);
  const common = {
    NODE_ENV: 'production',
    NEXT_TELEMETRY_DISABLED: '1',
    HOST: '127.0.0.1',
    DATABASE_URL: t.url,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: testRedisPrefix('replicas'),
    ENCLAVE_DATA_DIR: dataDir,
    ENCLAVE_MASTER_KEY: randomBytes(32).toString('hex'),
    ENCLAVE_ADMIN_EMAIL: ADMIN.email,
    ENCLAVE_ADMIN_PASSWORD: ADMIN.password,
    ENCLAVE_SECURE_COOKIES: 'false',
    ENCLAVE_OUTBOUND_ALLOW: '127.0.0.1',
    ENCLAVE_GATEWAY_URL: gateways.url,
    ENCLAVE_AGENT_PORT: String(agentPort),
    ENCLAVE_LLAMACPP_THREADS: '1',
    ENCLAVE_LLAMACPP_CONTEXT: '16384',
    ENCLAVE_LLAMACPP_SEQUENCES: '4',
    // A killed worker's queue jobs come back within seconds, and a dead writer's reply is settled soon.
    ENCLAVE_QUEUE_LOCK_MS: '5000',
    ENCLAVE_REPLY_LEASE_MS: '3000',
    LOG_LEVEL: 'warn',
  };
  const start = async (name: string, role: string, extra: Record<string, string>) => {
    const p = await startProduct({ ...common, ...extra }, role);
    running.set(name, p);
    outputs.set(outputs.has(name) ? `${name}-again` : name, p.output);
  };
  await Promise.all([
    start('agent', 'agent', { ENCLAVE_MODELS_DIR: path.resolve(repoRoot, 'models'), ENCLAVE_NODE_NAME: 'cpu-host' }),
    start('worker-a', 'worker', { ENCLAVE_NODE_NAME: 'worker-a' }),
    start('worker-b', 'worker', { ENCLAVE_NODE_NAME: 'worker-b' }),
    start('gateway-a', 'gateway', { GATEWAY_PORT: String(gwA) }),
    start('gateway-b', 'gateway', { GATEWAY_PORT: String(gwB) }),
    start('web-a', 'web', { PORT: String(webA) }),
    start('web-b', 'web', { PORT: String(webB) }),
  ]);
  mark('7 processes ready');
  const db = t.db;
  const [deployment] = await db.select().from(deployments).where(eq(deployments.name, 'stories260K'));
  const readyReplicas = async () => {
    const rows = await db.select().from(deploymentReplicas).where(and(eq(deploymentReplicas.deploymentId, deployment!.id), eq(deploymentReplicas.status, 'ready')));
    for (const r of rows) if (r.pid) enginePids.add(r.pid);
    return rows;
  };
  await until('a ready stories260K engine', async () => (await readyReplicas()).length > 0, 120_000, 500);

  const signInRes = await fetch(`${webs.url}/api/trpc/auth.signIn`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) });
  expect(signInRes.status).toBe(200);
  const cookie = signInRes.headers.get('set-cookie')!.split(';')[0]!;
  const api = (kind: 'query' | 'mutation', name: string, input?: unknown) => trpc(webs.url, cookie, kind, name, input);

  browser = await launchBrowser();
  const chatPage = await (await newContext(browser)).newPage();
  await signIn(chatPage, webs.url, ADMIN.email, ADMIN.password);
  await waitForModel(chatPage);
  await sendAndWait(chatPage, 'Once upon a time');
  mark('engine ready, browser signed in, a first reply');

  // The work: a quantization (on one worker's CPU), two load tests (one per worker: the queue runs one at a time per worker), a scale-up.
  const [source] = await db.select().from(modelVersions).where(eq(modelVersions.format, 'gguf'));
  // Load tests first (20 s each), then chats, then the quantization (about 20 s on this CPU): the kills come as it starts, all mid-run.
  const loadIds: string[] = [];
  for (const name of ['load one', 'load two']) loadIds.push((await api('mutation', 'loadtests.create', { name, target: { kind: 'deployment', deploymentId: deployment!.id, via: 'gateway' }, spec: LOAD })).id);
  await api('mutation', 'deployments.scale', { id: deployment!.id, replicas: 2 });
  await until('both load tests measuring', async () => {
    const rows = await db.select().from(loadTests);
    return rows.length === 2 && rows.every((r) => r.status === 'running' && Number(r.progress.done) > 0);
  }, 60_000, 200);
  // Two chats, one through each web process.
  const [convA, convB] = [(await api('mutation', 'conversations.create', {})).id, (await api('mutation', 'conversations.create', {})).id];
  const chats = [streamChat(`http://127.0.0.1:${webA}`, cookie, convA), streamChat(`http://127.0.0.1:${webB}`, cookie, convB)];
  await until('both chats streaming', async () => chats.every((c) => c.text.length > 0), 60_000, 20);
  const job = await api('mutation', 'jobs.createQuantize', { sourceVersionId: source!.id, target: 'q8_0' });
  const runner = await until('the quantization running on a worker', async () => {
    const [row] = await db.select().from(jobs).where(eq(jobs.id, job.id));
    return row?.status === 'running' && row.nodeName && row.progress.stage ? row.nodeName : undefined;
  }, 60_000, 50);
  mark(`quantization running on ${runner}, both load tests measuring, both chats streaming: the kills`);
  expect((await db.select().from(loadTests)).map((r) => r.status)).toEqual(['running', 'running']);
  expect(chats[0]!.events).not.toContain('done');

  await Promise.all(['web-a', 'gateway-a', runner, 'agent'].map((name) => running.get(name)!.killGroup()));
  for (const name of ['web-a', 'gateway-a', runner, 'agent']) running.delete(name);
  // The host's agent comes back (its engines ran on, detached); the other roles carry on without their twin.
  await start('agent', 'agent', { ENCLAVE_NODE_NAME: 'cpu-host' });
  // The job's page, opened in the browser through the balancer after the kills: the worker that took the
  // job over reaches it (Redis pub/sub, whichever web process serves the page) until it shows the end.
  const jobPage = await chatPage.context().newPage();
  await jobPage.goto(`${webs.url}/jobs/${job.id}`);
  await jobPage.locator('[data-testid=job-detail]').waitFor();
  await Promise.all(chats.map((c) => c.ended));
  mark(`the agent back; chats ended: ${chats.map((c) => c.events.at(-1)).join(', ')}`);

  // The quantization: taken over from the dead worker, finished once, one version registered.
  const quantized = await until('the quantization finished', async () => {
    const [row] = await db.select().from(jobs).where(eq(jobs.id, job.id));
    return row && ['succeeded', 'failed', 'cancelled'].includes(row.status) ? row : undefined;
  }, 180_000, 500);
  mark('quantization finished');
  expect([quantized.status, quantized.error]).toEqual(['succeeded', null]);
  expect(quantized.attempts).toBe(2);
  expect(await db.select().from(jobs)).toHaveLength(1);
  expect((await db.select().from(modelVersions).where(eq(modelVersions.producedByJobId, job.id))).map((v) => v.id)).toEqual([quantized.outputVersionId]);

  // The load tests: both finished once; the one on the dead worker ran again from the start, its samples once each.
  const loads = await until('both load tests finished', async () => {
    const rows = await db.select().from(loadTests);
    return rows.every((r) => !['queued', 'running'].includes(r.status)) ? rows : undefined;
  }, 180_000, 500);
  mark('load tests finished');
  expect(loads.map((r) => [r.status, r.error])).toEqual([['succeeded', null], ['succeeded', null]]);
  expect(loads.map((r) => Number(r.progress.attempt)).sort()).toEqual([1, 2]);
  for (const id of loadIds) {
    const seqs = (await db.select().from(loadTestSamples).where(eq(loadTestSamples.loadTestId, id))).map((s) => s.seq).sort((a, b) => a - b);
    expect(seqs).toEqual([...Array(LOAD.requests).keys()]);
    const r = loads.find((l) => l.id === id)!;
    expect(Number((r.summary as { completed: number }).completed) + Number((r.summary as { failed: number }).failed)).toBe(LOAD.requests);
  }
  // Three keys minted for the gateway (one per attempt), none left valid: the dead worker's revoked by the worker that took over.
  const minted = await db.select().from(apiKeys).where(like(apiKeys.name, 'load test %'));
  expect(minted.map((k) => k.revokedAt !== null)).toEqual([true, true, true]);

  // The scale-up: two replicas, each added once, both ready.
  await until('two ready replicas', async () => (await readyReplicas()).length === 2, 120_000, 500);
  expect(await db.select().from(deploymentReplicas).where(and(eq(deploymentReplicas.deploymentId, deployment!.id), ne(deploymentReplicas.status, 'stopped')))).toHaveLength(2);
  expect(await db.select().from(deploymentReplicas).where(eq(deploymentReplicas.deploymentId, deployment!.id))).toHaveLength(2);

  // Each chat turn: its reply kept (finished, failed or interrupted), and one audit row for it, whichever process wrote it.
  for (const [i, conv] of [convA, convB].entries()) {
    const turn = chats[i]!;
    const settled = await until(`chat ${i} settled`, async () => {
      const [reply] = await db.select().from(messages).where(eq(messages.id, turn.replyId));
      const audits = await db.select().from(auditLog).where(and(eq(auditLog.action, 'chat.send'), eq(auditLog.target, conv)));
      return reply && !reply.metadata.streaming && audits.length > 0 ? { reply, audits } : undefined;
    }, 90_000, 500);
    expect(settled.audits).toHaveLength(1);
    expect(turn.text.length).toBeGreaterThan(0);
  }
  expect(await api('query', 'audit.verify')).toMatchObject({ ok: true });
  mark('replicas, chats and audit checked');

  // The browser: the job page saw the end without a reload, and the chat answers through the web process left.
  await jobPage.waitForSelector('[data-testid=job-detail][data-status=succeeded]', { timeout: 60_000 });
  await sendAndWait(chatPage, 'The little dog');
  await chatPage.reload();
  await waitForModel(chatPage);
  await sendAndWait(chatPage, 'The big cat');
  mark('the browser carried on');
}, 600_000);
