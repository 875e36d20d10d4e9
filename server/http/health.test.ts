import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployments } from '../db/schema';
import { closeRedis } from '../core/redis';
import { makeDeployment } from '../testing/factories';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { startHealthServer } from './testing/health-server';

let t: TestDatabase;
let health: Awaited<ReturnType<typeof startHealthServer>>;
let engine: http.Server;
let engineUrl: string;
let replicaId: string;

beforeAll(async () => {
  t = await createTestDatabase('health');
  engine = http.createServer((req, res) => res.writeHead(req.url === '/health' ? 200 : 404).end());
  await new Promise<void>((resolve) => engine.listen(0, '127.0.0.1', resolve));
  engineUrl = `http://127.0.0.1:${(engine.address() as AddressInfo).port}`;
  const { replicas } = await makeDeployment(t.db, { name: 'health-model' }, [engineUrl]);
  replicaId = replicas[0]!.id;
  health = await startHealthServer(t.db);
});
afterAll(async () => {
  await health?.close();
  engine?.close();
  await closeRedis();
  await t?.drop();
});

describe('/api/health', () => {
  it('tells an anonymous caller the overall status and nothing else: no engine address, replica or error', async () => {
    const res = await health.get();
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ status: 'ok' });
    expect(res.text).not.toContain(engineUrl);
    expect(res.text).not.toContain(replicaId);
    expect(res.cacheControl).toBe('no-store');
  });

  it('gives a plain user and a forged session cookie the same short answer', async () => {
    expect(JSON.parse((await health.get(await health.cookieFor('user'))).text)).toEqual({ status: 'ok' });
    expect(JSON.parse((await health.get('enclave_session=' + 'A'.repeat(43))).text)).toEqual({ status: 'ok' });
  });

  it.each(['admin', 'engineer', 'viewer'] as const)('gives a signed-in %s the detail: dependencies and each engine replica', async (role) => {
    const res = await health.get(await health.cookieFor(role));
    expect(res.status).toBe(200);
    const body = JSON.parse(res.text);
    expect(body).toMatchObject({ status: 'ok', postgres: { ok: true }, redis: { ok: true } });
    expect(body.engines).toEqual([expect.objectContaining({ deployment: 'health-model', replicaId, url: engineUrl, health: expect.objectContaining({ ok: true }) })]);
  });

  it("never calls an upstream API's URL: its readiness is the reconciler's probe, under the outbound policy", async () => {
    let connections = 0;
    const external = http.createServer((_req, res) => res.writeHead(200).end());
    external.on('connection', () => connections++);
    await new Promise<void>((resolve) => external.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(external.address() as AddressInfo).port}`;
    const { deployment } = await makeDeployment(t.db, { name: 'health-upstream', engine: 'upstream', spec: { engine: 'upstream', upstream: { url } } }, [url]);
    try {
      const body = JSON.parse((await health.get(await health.cookieFor('viewer'))).text);
      expect(body.engines).toContainEqual(expect.objectContaining({ deployment: 'health-upstream', health: { ok: true, ms: 0 } }));
      expect(connections).toBe(0);
    } finally {
      await t.db.delete(deployments).where(eq(deployments.id, deployment.id));
      external.close();
    }
  });
});
