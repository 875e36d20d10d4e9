import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeRedis } from '../../core/redis';
import { deploymentPrices, usageDaily } from '../../db/schema';
import { createRequestLogWriter, type RequestLogRow } from '../../gateway/request-log';
import { createApiKey } from '../../security/api-keys';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../../testing/database';
import { makeDeployment } from '../../testing/factories';
import { startApiTestServer } from '../../api/testing/api-test-server';
import { runMaintenance } from '../../../workers/maintenance';
import { usageCsv } from './report';
import { rollUpUsage } from './rollup';

process.env.REDIS_PREFIX = testRedisPrefix('usage');

let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;

beforeAll(async () => {
  t = await createTestDatabase('usage');
  api = await startApiTestServer({ db: t.db, masterKey: randomBytes(32), env: { REDIS_PREFIX: process.env.REDIS_PREFIX } });
});
afterAll(async () => {
  await api?.close();
  await closeRedis();
  await t?.drop();
});

function logRow(over: Partial<RequestLogRow>): RequestLogRow {
  return {
    createdAt: new Date(),
    apiKeyId: null,
    userId: null,
    model: 'm',
    deploymentId: null,
    replicaId: null,
    status: 200,
    errorType: null,
    stream: false,
    promptTokens: 10,
    completionTokens: 20,
    ttftMs: null,
    e2eMs: 5,
    overheadMs: 1,
    retries: 0,
    clientAddress: null,
    experimentId: null,
    variantId: null,
    tpotMs: null,
    itlMs: null,
    ...over,
  };
}

const snapshot = async () =>
  (await t.db.select().from(usageDaily)).map(({ rolledUpAt: _, ...r }) => r).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

it('rolls request_logs up by day, user, key and model (cost where priced), the same rows on every run; users see their own, readers everyone', async () => {
  const alice = await api.userSession('user');
  const bob = await api.userSession('user');
  const viewer = await api.userSession('viewer');
  const { id: keyId } = await createApiKey(t.db, { userId: alice.user.id, name: '=evil,key', models: null });
  const { deployment: priced } = await makeDeployment(t.db, { name: 'priced' });
  await t.db.insert(deploymentPrices).values({ deploymentId: priced.id, promptPerMillion: 1, completionPerMillion: 2, currency: 'EUR' });

  const now = new Date();
  const today = now.toISOString().slice(0, 10);
  const twoDaysAgo = new Date(now.getTime() - 2 * 86_400_000);
  const earlier = twoDaysAgo.toISOString().slice(0, 10);
  const writer = createRequestLogWriter(t.db, { intervalMs: 60_000 });
  const rows = [
    logRow({ userId: alice.user.id, apiKeyId: keyId, model: 'priced', deploymentId: priced.id, createdAt: twoDaysAgo, promptTokens: 1000, completionTokens: 500 }),
    logRow({ userId: alice.user.id, apiKeyId: keyId, model: 'priced', deploymentId: priced.id, createdAt: twoDaysAgo, status: 500, promptTokens: null, completionTokens: null }),
    logRow({ userId: alice.user.id, model: 'free', createdAt: now }),
    logRow({ userId: bob.user.id, model: 'free', createdAt: now, promptTokens: 7, completionTokens: 3 }),
    logRow({ userId: bob.user.id, model: 'free', createdAt: now, status: 429 }),
  ];
  for (const r of rows) writer.push(r);
  await writer.close();

  // Through the maintenance task, as the worker runs it.
  const { usage } = await runMaintenance(t.db, { task: 'usage-rollup' });
  expect(usage!.days).toEqual([earlier, new Date(now.getTime() - 86_400_000).toISOString().slice(0, 10), today]);
  const first = await snapshot();
  expect(first.map((r) => [r.day, r.userId === alice.user.id ? 'alice' : 'bob', r.apiKeyId ? 'key' : null, r.model, r.requests, r.errors, r.promptTokens, r.completionTokens, r.cost, r.currency])).toEqual(
    expect.arrayContaining([
      [earlier, 'alice', 'key', 'priced', 2, 1, 1000, 500, 0.002, 'EUR'],
      [today, 'alice', null, 'free', 1, 0, 10, 20, null, null],
      [today, 'bob', null, 'free', 2, 1, 17, 23, null, null],
    ]),
  );
  expect(first).toHaveLength(3);

  // Idempotent: a second run (and one rebuilding the older day) leaves the same rows; a row logged since counts once.
  await rollUpUsage(t.db);
  expect(await snapshot()).toEqual(first);
  await t.db.execute(sql`DELETE FROM usage_daily WHERE day = ${today}::date`);
  await t.db.execute(sql`UPDATE usage_daily SET requests = 99`);
  await t.db.execute(sql`INSERT INTO usage_daily (day, model, requests, errors, prompt_tokens, completion_tokens) VALUES (${earlier}::date, 'gone', 1, 0, 0, 0)`);
  const { rollUpDay } = await import('./rollup');
  await rollUpDay(t.db, earlier);
  await rollUpUsage(t.db);
  expect(await snapshot()).toEqual(first);

  const range = { from: earlier, to: today };
  // A user sees only their own, by day and model.
  const mine = await api.trpc('query', 'usage.mine', range, bob.cookie);
  expect(mine.status).toBe(200);
  expect(mine.data.rows).toEqual([{ day: today, model: 'free', requests: 2, errors: 1, promptTokens: 17, completionTokens: 23, cost: null, currency: null }]);
  expect(mine.data.days).toEqual([{ day: today, requests: 2, errors: 1, promptTokens: 17, completionTokens: 23, cost: null, currency: null }]);
  expect((await api.trpc('query', 'usage.summary', { ...range, groupBy: 'user' }, bob.cookie)).status).toBe(403);
  expect((await api.trpc('query', 'usage.csv', range, bob.cookie)).status).toBe(403);

  // A viewer sees everyone, grouped as asked.
  const byUser = await api.trpc('query', 'usage.summary', { ...range, groupBy: 'user' }, viewer.cookie);
  expect(byUser.status).toBe(200);
  expect(byUser.data.rows.map((r: { label: string; requests: number }) => [r.label, r.requests])).toEqual([
    [alice.email, 3],
    [bob.email, 2],
  ]);
  const byModel = (await api.trpc('query', 'usage.summary', { ...range, groupBy: 'model' }, viewer.cookie)).data;
  expect(byModel.rows.map((r: { key: string; cost: number | null }) => [r.key, r.cost])).toEqual([
    ['priced', 0.002],
    ['free', null],
  ]);
  const byKey = (await api.trpc('query', 'usage.summary', { ...range, groupBy: 'key' }, viewer.cookie)).data;
  expect(byKey.rows.map((r: { label: string | null }) => r.label)).toEqual([expect.stringMatching(/^=evil,key \(.+…\)$/), null]);
  // Reading everyone's usage is itself on record (an audited read), with who read it.
  const reads = await t.db.execute(sql`select actor_label from audit_log where action = 'usage.summary' and outcome = 'success'`);
  expect(reads.rows.map((r) => (r as { actor_label: string }).actor_label)).toEqual([viewer.email, viewer.email, viewer.email]);
  const byDay = (await api.trpc('query', 'usage.summary', { ...range, groupBy: 'day' }, viewer.cookie)).data;
  expect(byDay.rows.map((r: { key: string }) => r.key)).toEqual([earlier, today]);
  expect(byDay.days.map((d: { promptTokens: number }) => d.promptTokens)).toEqual([1000, 27]);

  // CSV: everyone's for readers, one's own for a user; a formula-like name is defused and quoted.
  const csv = (await api.trpc('query', 'usage.csv', range, viewer.cookie)).data;
  expect(csv.filename).toBe(`usage-all-${earlier}-${today}.csv`);
  const lines = csv.csv.trimEnd().split('\n');
  expect(lines[0]).toBe('day,user,key,model,deployment,requests,errors,prompt_tokens,completion_tokens,cost,currency');
  expect(lines[1]).toBe(`${earlier},${alice.email},"'=evil,key",priced,priced,2,1,1000,500,0.002000,EUR`);
  expect(lines).toHaveLength(4);
  const bobCsv = (await api.trpc('query', 'usage.mineCsv', range, bob.cookie)).data.csv.trimEnd().split('\n');
  expect(bobCsv).toEqual([lines[0], `${today},${bob.email},,free,,2,1,17,23,,`]);
  // An export too long for one response is refused, naming a shorter range.
  expect((await usageCsv(t.db, range, undefined, 3)).trimEnd().split('\n')).toHaveLength(4);
  await expect(usageCsv(t.db, range, undefined, 2)).rejects.toThrow(/^to: the range holds more than 2 rows/);
});

it('refuses bad ranges with a 400 naming the field', async () => {
  const admin = await api.userSession('admin');
  const bad: [unknown, RegExp][] = [
    [{ from: '2026-01-10', to: '2026-01-01' }, /to: must be on or after from/],
    [{ from: '2025-01-01', to: '2026-01-02' }, /to: a range covers at most 366 days/],
    [{ from: '2026-02-30', to: '2026-03-01' }, /from/],
    [{ from: 'yesterday', to: '2026-03-01' }, /from/],
    [{ from: '2026-01-01' }, /to/],
    [{ from: '2026-01-01', to: '2026-01-02', extra: 1 }, /extra/],
  ];
  for (const [input, message] of bad) {
    const res = await api.trpc('query', 'usage.mine', input, admin.cookie);
    expect([res.status, res.error?.message]).toEqual([400, expect.stringMatching(message)]);
  }
  const groupBy = await api.trpc('query', 'usage.summary', { from: '2026-01-01', to: '2026-01-02', groupBy: 'planet' }, admin.cookie);
  expect([groupBy.status, groupBy.error?.message]).toEqual([400, expect.stringMatching(/groupBy/)]);
  // 366 days exactly is fine.
  expect((await api.trpc('query', 'usage.summary', { from: '2025-01-01', to: '2026-01-01', groupBy: 'day' }, admin.cookie)).status).toBe(200);
});

it('redoes yesterday during the first hour after midnight (rows flushed late), and only today after', async () => {
  const midnight = Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
  const today = new Date(midnight).toISOString().slice(0, 10);
  const yesterday = new Date(midnight - 86_400_000).toISOString().slice(0, 10);
  const writer = createRequestLogWriter(t.db, { intervalMs: 60_000 });
  writer.push(logRow({ model: 'late', createdAt: new Date(midnight + 1_000) }));
  await writer.close();
  await rollUpUsage(t.db, new Date(midnight + 12 * 3_600_000));
  // A row of yesterday's last second, flushed after the day was rolled up.
  const late = createRequestLogWriter(t.db, { intervalMs: 60_000 });
  late.push(logRow({ model: 'late', createdAt: new Date(midnight - 1_000) }));
  await late.close();
  expect((await rollUpUsage(t.db, new Date(midnight + 12 * 3_600_000))).days).toEqual([today]);
  const lateRows = async () => (await t.db.select().from(usageDaily)).filter((r) => r.model === 'late').map((r) => [r.day, r.requests]).sort();
  expect(await lateRows()).toEqual([[today, 1]]);
  expect((await rollUpUsage(t.db, new Date(midnight + 30 * 60_000))).days).toEqual([yesterday, today]);
  expect(await lateRows()).toEqual([[yesterday, 1], [today, 1]].sort());
});
