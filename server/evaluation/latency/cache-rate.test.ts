import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRequestLogWriter, type RequestLogRow } from '../../gateway/request-log';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeDeployment } from '../../testing/factories';
import { cacheHitRate } from './cache-rate';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('cacherate');
});
afterAll(async () => {
  await t?.drop();
});

const row = (over: Partial<RequestLogRow>): RequestLogRow => ({
  createdAt: new Date(),
  apiKeyId: null,
  userId: null,
  model: 'm',
  deploymentId: null,
  replicaId: null,
  status: 200,
  errorType: null,
  stream: false,
  promptTokens: 1,
  completionTokens: 1,
  ttftMs: null,
  e2eMs: 1,
  overheadMs: 1,
  retries: 0,
  clientAddress: null,
  experimentId: null,
  variantId: null,
  tpotMs: null,
  itlMs: null,
  ...over,
});

it('counts hits and misses of cacheable requests in the window, per deployment or model; uncacheable ones are left out', async () => {
  const { deployment: a } = await makeDeployment(t.db);
  const { deployment: b } = await makeDeployment(t.db);
  const writer = createRequestLogWriter(t.db, { intervalMs: 60_000 });
  for (const cache of ['hit', 'hit', 'hit', 'miss', null, null] as const) writer.push(row({ deploymentId: a.id, model: a.name, cache }));
  writer.push(row({ deploymentId: a.id, model: a.name, cache: 'miss', createdAt: new Date(Date.now() - 3 * 3_600_000) }));
  writer.push(row({ deploymentId: b.id, model: b.name, cache: null }));
  await writer.close();
  expect(await cacheHitRate(t.db, { scope: { kind: 'deployment', id: a.id }, hours: 1 })).toEqual({ hits: 3, misses: 1, rate: 0.75 });
  expect(await cacheHitRate(t.db, { scope: { kind: 'model', name: a.name }, hours: 6 })).toEqual({ hits: 3, misses: 2, rate: 0.6 });
  expect(await cacheHitRate(t.db, { scope: { kind: 'deployment', id: b.id }, hours: 1 })).toEqual({ hits: 0, misses: 0, rate: null });
  await expect(cacheHitRate(t.db, { scope: { kind: 'loadTest', id: a.id }, hours: 1 })).rejects.toThrow(/load test/);
});
