import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeRedis, redis, redisKey } from '../../core/redis';
import { env } from '../../core/env';
import { publishBreakerChanges } from '../../gateway/breaker-state';
import { failed, succeeded } from '../../gateway/replica-health';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeDeployment, makeReplica } from '../../testing/factories';
import { until } from '../../testing/until';
import { startApiTestServer } from '../testing/api-test-server';

// The deployment page's gateway panel: settings changed through the API with every rule checked on the
// server, and the breaker state the gateways publish (set aside until, back in service) read back.
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;

beforeAll(async () => {
  t = await createTestDatabase('depgateway');
  api = await startApiTestServer({ db: t.db, masterKey: randomBytes(32) });
}, 60_000);

afterAll(async () => {
  await api?.close();
  await closeRedis();
  await t?.drop();
});

it('an engineer sets cache, timeouts, retries and fallbacks; bad values are refused naming the problem; users may not', async () => {
  const engineer = await api.userSession('engineer');
  const { deployment: a } = await makeDeployment(t.db);
  const { deployment: b } = await makeDeployment(t.db);
  const { deployment: c } = await makeDeployment(t.db);

  const before = await api.trpc('query', 'deployments.gateway', { id: a.id }, engineer.cookie);
  expect(before.data).toMatchObject({ cacheMode: 'deterministic', cacheTtlSeconds: 3600, firstTokenTimeoutMs: null, maxRetries: null, fallbacks: [], contextFallback: null });

  const set = await api.trpc(
    'mutation',
    'deployments.setGateway',
    { id: a.id, cacheMode: 'all', cacheTtlSeconds: 60, firstTokenTimeoutMs: 2_000, requestTimeoutMs: 30_000, maxRetries: 1, retryBudgetRatio: 0.2, fallbackDeploymentIds: [b.id, c.id], contextFallbackDeploymentId: c.id },
    engineer.cookie,
  );
  expect(set.status).toBe(200);
  expect(set.data).toMatchObject({
    cacheMode: 'all',
    cacheTtlSeconds: 60,
    maxRetries: 1,
    fallbacks: [{ id: b.id, name: b.name }, { id: c.id, name: c.name }],
    contextFallback: { id: c.id, name: c.name },
  });

  const refusals: [Record<string, unknown>, RegExp][] = [
    [{ fallbackDeploymentIds: [a.id] }, /its own fallback/],
    [{ fallbackDeploymentIds: [b.id, b.id] }, /twice/],
    [{ contextFallbackDeploymentId: '00000000-0000-4000-8000-000000000000' }, /No such deployment/],
    [{ firstTokenTimeoutMs: 40_000 }, /cannot be longer/],
    [{ cacheTtlSeconds: 0 }, /cacheTtlSeconds/],
    [{ cacheMode: 'sometimes' }, /cacheMode/],
    [{ retryBudgetRatio: 1.5 }, /retryBudgetRatio/],
    [{ maxRetries: -1 }, /maxRetries/],
  ];
  for (const [change, message] of refusals) {
    const r = await api.trpc('mutation', 'deployments.setGateway', { id: a.id, ...change }, engineer.cookie);
    expect(r.status, JSON.stringify(change)).toBe(400);
    expect(JSON.stringify(r.data ?? r)).toMatch(message);
  }
  // Nothing half-written: the settings are those of the last good change.
  expect((await api.trpc('query', 'deployments.gateway', { id: a.id }, engineer.cookie)).data).toMatchObject({ firstTokenTimeoutMs: 2_000, cacheTtlSeconds: 60 });

  const user = await api.userSession('user');
  expect((await api.trpc('mutation', 'deployments.setGateway', { id: a.id, maxRetries: 0 }, user.cookie)).status).toBe(403);
});

it('shows each replica set aside by a gateway until its cooldown ends, and in service again once it answers', async () => {
  const viewer = await api.userSession('viewer');
  const { deployment } = await makeDeployment(t.db);
  const replica = await makeReplica(t.db, deployment.id, { url: 'http://127.0.0.1:9', status: 'ready' });
  const stop = publishBreakerChanges(redis(), env().REDIS_PREFIX);
  try {
    const r = { id: replica.id, hostname: '127.0.0.1', port: 9, basePath: '', outstanding: 0 };
    failed(r, Date.now(), { failures: 1, cooldownMs: 30_000 }, { name: deployment.name, deploymentId: deployment.id });
    const shown = await until('the set-aside state', async () => {
      const g = await api.trpc('query', 'deployments.gateway', { id: deployment.id }, viewer.cookie);
      return g.data.breakers[replica.id];
    });
    expect(shown).toMatchObject({ state: 'set_aside', failures: 1 });
    expect(shown.until).toBeGreaterThan(Date.now() + 25_000);
    succeeded(r);
    await until('back in service', async () => {
      const g = await api.trpc('query', 'deployments.gateway', { id: deployment.id }, viewer.cookie);
      return !g.data.breakers[replica.id];
    });
    expect(await redis().exists(redisKey('gateway', 'breaker', replica.id))).toBe(0);
  } finally {
    stop();
  }
});
