import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { auditLog, loadTestSamples, loadTests, requestLogs } from '../server/db/schema';
import { closeQueues, queue } from '../server/core/queues';
import { startApiTestServer } from '../server/api/testing/api-test-server';
import { startOpenAIDouble, type OpenAIDouble } from '../server/testing/openai-double';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../server/testing/database';
import { until } from '../server/testing/until';
import { startLoadTestWorker } from './loadtest';

process.env.REDIS_PREFIX = testRedisPrefix('loadtest');
// The targets below are doubles on 127.0.0.1, which the outbound policy refuses unless the admin allows it.
process.env.ENCLAVE_OUTBOUND_ALLOW = '127.0.0.1';
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let engine: OpenAIDouble;
let worker: { close(): Promise<void> };
const masterKey = randomBytes(32);
const SECRET = 'sk-upstream-secret-123';

beforeAll(async () => {
  t = await createTestDatabase('loadtest');
  api = await startApiTestServer({ db: t.db, masterKey });
  engine = await startOpenAIDouble({ firstTokenMs: 10, interTokenMs: 4, tokens: 5 });
  worker = await startLoadTestWorker(t.db, { masterKey });
}, 60_000);
afterAll(async () => {
  await worker?.close();
  await queue('loadtest').obliterate({ force: true });
  await closeQueues();
  await engine?.close();
  await api?.close();
  await t?.drop();
});

/** The state a load test's row reaches, asked for every 200 ms (a run takes seconds). */
const untilLoadTest = <T>(fn: () => Promise<T | undefined>) => until('the load test', fn, 60_000, 200);

const spec = { mode: 'concurrency', concurrency: 4, requests: 24, warmup: 2, workload: { kind: 'random', inputTokens: 16, outputTokens: 5 }, objectives: { ttftMs: 5_000 } };

it('runs a load test from the API to the stored result, with progress, samples, histograms, compare and export', async () => {
  const engineer = await api.userSession('engineer');
  const created = await api.trpc('mutation', 'loadtests.create', { name: 'first', target: { kind: 'url', url: `${engine.url}/v1`, model: 'double' }, apiKey: SECRET, spec }, engineer.cookie);
  expect(created.status).toBe(200);
  const id = created.data.id as string;
  const done = await untilLoadTest(async () => {
    const r = await api.trpc('query', 'loadtests.get', { id }, engineer.cookie);
    return ['succeeded', 'failed'].includes(r.data.status) ? r.data : undefined;
  });
  expect(done.error).toBeNull();
  expect(done.status).toBe('succeeded');
  expect(done.summary).toMatchObject({ completed: 24, failed: 0, goodFraction: 1, timing: { shards: expect.any(Number) } });
  expect(done.summary.ttftMs.median).toBeGreaterThanOrEqual(10);
  expect(done.progress).toMatchObject({ done: 24, total: 24 });
  // The sealed key is neither stored in clear nor returned.
  expect(JSON.stringify(done)).not.toContain(SECRET);
  const [raw] = await t.db.select().from(loadTests).where(eq(loadTests.id, id));
  expect(JSON.stringify(raw)).not.toContain(SECRET);
  expect(done.spec.target).toEqual({ kind: 'url', hasKey: true });
  // Warm-up requests are not stored: 24 measured samples, seqs 0..23.
  const rows = await t.db.select().from(loadTestSamples).where(eq(loadTestSamples.loadTestId, id));
  expect(rows.map((r) => r.seq).sort((a, b) => a - b)).toEqual([...Array(24).keys()]);
  expect(rows.every((r) => r.outputTokens === 5 && r.itlMs!.length === 4 && r.inputTokens === 16)).toBe(true);

  const h = (await api.trpc('query', 'loadtests.histograms', { id }, engineer.cookie)).data;
  expect(h.ttft.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(24);
  expect(h.itl.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(96);
  expect(h.ttft.at(-1).le).toBe(Infinity); // superjson carries Infinity as itself

  const second = await api.trpc('mutation', 'loadtests.create', { name: 'second', target: { kind: 'url', url: `${engine.url}/v1/`, model: 'double' }, spec: { ...spec, mode: 'rate', rate: 50 } }, engineer.cookie);
  await untilLoadTest(async () => ((await api.trpc('query', 'loadtests.get', { id: second.data.id }, engineer.cookie)).data.status === 'succeeded' ? true : undefined));
  const cmp = await api.trpc('query', 'loadtests.compare', { ids: [id, second.data.id] }, engineer.cookie);
  expect(cmp.data.map((r: { name: string }) => r.name)).toEqual(['first', 'second']);
  expect(cmp.data[1].summary.completed).toBe(24);

  const json = await api.request(`/api/loadtests/${id}/export?format=json`, { cookie: engineer.cookie });
  expect(json.status).toBe(200);
  const body = await json.json();
  expect(body).toMatchObject({ id, name: 'first', model: 'double', summary: { completed: 24 } });
  expect(body.samples).toHaveLength(24);
  const csv = await api.request(`/api/loadtests/${id}/export?format=csv`, { cookie: engineer.cookie });
  expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
  const lines = (await csv.text()).trim().split('\n');
  expect(lines[0]).toBe('seq,stage,start_ms,ttft_ms,e2e_ms,tpot_ms,input_tokens,output_tokens,error,itl_ms');
  expect(lines).toHaveLength(25);
  expect(lines[1]!.split(',')[9]!.split(' ')).toHaveLength(4);
  expect((await api.request(`/api/loadtests/${id}/export?format=xml`, { cookie: engineer.cookie })).status).toBe(400);
  expect((await api.request(`/api/loadtests/${id}/export?format=json`)).status).toBe(401);

  // Mutations are audited, without the key.
  const audits = await t.db.select().from(auditLog).where(eq(auditLog.action, 'loadtests.create'));
  expect(audits.length).toBeGreaterThanOrEqual(2);
  expect(JSON.stringify(audits)).not.toContain(SECRET);
}, 180_000);

it('replays recorded traffic shapes from request_logs: their output lengths, in their order', async () => {
  const engineer = await api.userSession('engineer');
  const now = Date.now();
  const recorded = [3, 5, 2].map((completion, i) => ({
    model: 'replayed',
    status: 200,
    stream: 1,
    promptTokens: 6,
    completionTokens: completion,
    e2eMs: 50,
    overheadMs: 1,
    createdAt: new Date(now - 60_000 + i * 100),
  }));
  await t.db.insert(requestLogs).values([...recorded, { ...recorded[0]!, model: 'other', completionTokens: 1 }, { ...recorded[0]!, status: 500 }]);
  engine.set({ tokens: 50 });
  try {
    const created = await api.trpc(
      'mutation',
      'loadtests.create',
      { name: 'replay', target: { kind: 'url', url: `${engine.url}/v1`, model: 'double' }, spec: { mode: 'rate', requests: 6, workload: { kind: 'replay', model: 'replayed', hours: 1, speed: 10 } } },
      engineer.cookie,
    );
    expect(created.status).toBe(200);
    const done = await untilLoadTest(async () => {
      const r = (await api.trpc('query', 'loadtests.get', { id: created.data.id }, engineer.cookie)).data;
      return ['succeeded', 'failed'].includes(r.status) ? r : undefined;
    });
    expect([done.status, done.error]).toEqual(['succeeded', null]);
    const rows = await t.db.select().from(loadTestSamples).where(eq(loadTestSamples.loadTestId, created.data.id)).orderBy(loadTestSamples.seq);
    expect(rows.map((r) => r.outputTokens)).toEqual([3, 5, 2, 3, 5, 2]);
    // Recorded gaps of 100 ms at speed 10: sent about 10 ms apart.
    expect(rows[1]!.startMs - rows[0]!.startMs).toBeGreaterThan(5);
    const none = await api.trpc('mutation', 'loadtests.create', { name: 'nothing', target: { kind: 'url', url: `${engine.url}/v1`, model: 'double' }, spec: { mode: 'rate', requests: 2, workload: { kind: 'replay', model: 'never-seen' } } }, engineer.cookie);
    const failed = await untilLoadTest(async () => {
      const r = (await api.trpc('query', 'loadtests.get', { id: none.data.id }, engineer.cookie)).data;
      return ['succeeded', 'failed'].includes(r.status) ? r : undefined;
    });
    expect([failed.status, failed.error]).toEqual(['failed', 'no successful requests of never-seen logged in the last 24 h to replay']);
  } finally {
    engine.set({ tokens: 5 });
  }
}, 120_000);

it('checks roles on the server and scopes runs to who may see them', async () => {
  const engineer = await api.userSession('engineer');
  const other = await api.userSession('engineer');
  const viewer = await api.userSession('viewer');
  const user = await api.userSession('user');
  const input = { name: 'roles', target: { kind: 'url', url: 'http://127.0.0.1:9/v1', model: 'm' }, spec };
  expect((await api.trpc('mutation', 'loadtests.create', input, viewer.cookie)).status).toBe(403);
  expect((await api.trpc('mutation', 'loadtests.create', input, user.cookie)).status).toBe(403);
  expect((await api.trpc('query', 'loadtests.list', undefined, user.cookie)).status).toBe(403);
  const created = await api.trpc('mutation', 'loadtests.create', input, engineer.cookie);
  const id = created.data.id;
  // Engineers see the team's runs; a viewer sees only their own (none), as if the run did not exist.
  expect((await api.trpc('query', 'loadtests.get', { id }, other.cookie)).status).toBe(200);
  expect((await api.trpc('query', 'loadtests.get', { id }, viewer.cookie)).status).toBe(404);
  expect((await api.trpc('query', 'loadtests.list', undefined, viewer.cookie)).data).toEqual([]);
  expect((await api.request(`/api/loadtests/${id}/export?format=csv`, { cookie: viewer.cookie })).status).toBe(404);
  expect((await api.request(`/api/loadtests/${id}/export?format=csv`, { cookie: other.cookie })).status).toBe(200);
  expect((await api.request(`/api/loadtests/not-a-uuid/export`, { cookie: engineer.cookie })).status).toBe(404);
  // Only the owner (or an admin) cancels.
  expect((await api.trpc('mutation', 'loadtests.cancel', { id }, other.cookie)).status).toBe(403);
  const final = await untilLoadTest(async () => {
    const r = (await api.trpc('query', 'loadtests.get', { id }, engineer.cookie)).data;
    return ['succeeded', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
  });
  // Port 9 refuses: every request fails, and the run still ends with a summary that says so.
  expect(final.summary).toMatchObject({ completed: 0, failed: 24, errorRate: 1 });
}, 120_000);

it('answers malformed and hostile input with a clear 400, writing no row', async () => {
  const engineer = await api.userSession('engineer');
  const before = (await t.db.select().from(loadTests)).length;
  const bad = async (input: unknown) => api.trpc('mutation', 'loadtests.create', input, engineer.cookie);
  const cases = [
    { name: 'x', target: { kind: 'url', url: 'file:///etc/passwd', model: 'm' }, spec },
    { name: 'x', target: { kind: 'url', url: 'http://h/v1', model: 'm' }, spec: { ...spec, requests: -1 } },
    { name: 'x', target: { kind: 'url', url: 'http://h/v1', model: 'm' }, spec: { ...spec, mode: 'rate' } },
    { name: 'x', target: { kind: 'url', url: 'http://h/v1', model: 'm' }, apiKey: 'has space', spec },
    { name: '', target: { kind: 'url', url: 'http://h/v1', model: 'm' }, spec },
    { name: 'x', target: { kind: 'deployment', deploymentId: 'nope' }, spec },
    'not an object',
  ];
  for (const c of cases) {
    const r = await bad(c);
    expect([r.status, r.error?.message]).toEqual([400, expect.any(String)]);
    expect(r.error!.message).not.toMatch(/Internal/);
  }
  const missing = await bad({ name: 'x', target: { kind: 'deployment', deploymentId: '00000000-0000-4000-8000-000000000000' }, spec });
  expect([missing.status, missing.error?.message]).toEqual([404, 'No such deployment']);
  expect((await api.trpc('query', 'loadtests.compare', { ids: ['00000000-0000-4000-8000-000000000000'] }, engineer.cookie)).status).toBe(400);
  expect((await t.db.select().from(loadTests)).length).toBe(before);
});

it('cancels a running test: the worker stops and keeps what it measured', async () => {
  const engineer = await api.userSession('engineer');
  engine.set({ interTokenMs: 50, tokens: 20 });
  const created = await api.trpc('mutation', 'loadtests.create', { name: 'long', target: { kind: 'url', url: `${engine.url}/v1`, model: 'double' }, spec: { ...spec, requests: 400, concurrency: 2 } }, engineer.cookie);
  const id = created.data.id;
  await untilLoadTest(async () => {
    const r = (await api.trpc('query', 'loadtests.get', { id }, engineer.cookie)).data;
    return r.status === 'running' && (r.progress.done ?? 0) > 0 ? true : undefined;
  });
  expect((await api.trpc('mutation', 'loadtests.cancel', { id }, engineer.cookie)).status).toBe(200);
  const row = await untilLoadTest(async () => {
    const r = (await api.trpc('query', 'loadtests.get', { id }, engineer.cookie)).data;
    return r.status === 'cancelled' && r.summary ? r : undefined;
  });
  expect(row.summary.completed).toBeLessThan(400);
  expect((await api.trpc('mutation', 'loadtests.cancel', { id }, engineer.cookie)).status).toBe(409);
  engine.set({ interTokenMs: 4, tokens: 5 });
}, 120_000);
