import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { alertRules, auditLog } from '../db/schema';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { evaluateAlerts } from './alerts/evaluate';
import { insertRecordedNode, recordedSeries } from './alerts/testing/recorded';

process.env.REDIS_PREFIX = testRedisPrefix('monitoringapi');
// The webhook below points at 127.0.0.1, which the outbound policy refuses unless the admin allows it.
process.env.ENCLAVE_OUTBOUND_ALLOW = '127.0.0.1';
const masterKey = randomBytes(32);
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let admin: string, engineer: string, viewer: string, user: string;

beforeAll(async () => {
  t = await createTestDatabase('monitoringapi');
  api = await startApiTestServer({ db: t.db, masterKey });
  [admin, engineer, viewer, user] = await Promise.all(['admin', 'engineer', 'viewer', 'user'].map(async (r) => (await api.userSession(r)).cookie));
});
afterAll(async () => {
  await api?.close();
  await t?.drop();
});

describe('monitoring API', () => {
  it('gpuSeries and alerts are for the fleet roles; chat users are refused', async () => {
    const node = await insertRecordedNode(t.db, 'h100-a', { 0: recordedSeries(240, Date.now(), (i) => ({ temperatureC: i > 200 ? 91 : 53 })) });
    await evaluateAlerts(t.db);
    const series = await api.trpc('query', 'monitoring.gpuSeries', { nodeId: node.id, window: 'hour' }, viewer);
    expect(series.status).toBe(200);
    expect(series.data.gpus[0].points.length).toBeGreaterThan(100);
    const alerts = await api.trpc('query', 'monitoring.alerts', undefined, viewer);
    expect(alerts.data.firing.map((a: { subject: string }) => a.subject)).toEqual(['h100-a/gpu0']);
    expect((await api.trpc('query', 'monitoring.alerts', undefined, user)).status).toBe(403);
    expect((await api.trpc('query', 'monitoring.gpuSeries', { nodeId: node.id }, user)).status).toBe(403);
    expect((await api.trpc('query', 'monitoring.gpuSeries', { nodeId: node.id }, undefined)).status).toBe(401);
  });

  it('answers malformed input with 400 and a field name, never 500', async () => {
    const bad = await api.trpc('query', 'monitoring.gpuSeries', { nodeId: 'nope', window: 'hour' }, viewer);
    expect([bad.status, bad.error?.message]).toEqual([400, expect.stringContaining('nodeId')]);
    const window = await api.trpc('query', 'monitoring.gpuSeries', { nodeId: '00000000-0000-4000-8000-000000000000', window: 'year' }, viewer);
    expect(window.status).toBe(400);
    const missing = await api.trpc('query', 'monitoring.gpuSeries', { nodeId: '00000000-0000-4000-8000-000000000000' }, viewer);
    expect(missing.status).toBe(404);
    const rule = await api.trpc('mutation', 'monitoring.createRule', { name: 'x', kind: 'gpu_temperature', threshold: 'hot', durationSeconds: 60 }, admin);
    expect([rule.status, rule.error?.message]).toEqual([400, expect.stringContaining('threshold')]);
    const pct = await api.trpc('mutation', 'monitoring.createRule', { name: 'x', kind: 'gpu_memory_pressure', threshold: 150, durationSeconds: 60 }, admin);
    expect([pct.status, pct.error?.message]).toEqual([400, 'threshold: a percentage must be between 0 and 100']);
    const kind = await api.trpc('mutation', 'monitoring.createRule', { name: 'x', kind: 'rm -rf', threshold: 1, durationSeconds: 60 }, admin);
    expect(kind.status).toBe(400);
    const scope = await api.trpc('mutation', 'monitoring.createRule', { name: 'x', kind: 'gpu_temperature', threshold: 1, durationSeconds: 60, scope: { evil: 'x' } }, admin);
    expect(scope.status).toBe(400);
    expect((await api.trpc('mutation', 'monitoring.updateRule', { id: '00000000-0000-4000-8000-000000000000', threshold: 3 }, admin)).status).toBe(404);
  });

  it('rules: admins change them, engineers read them, viewers do not see them', async () => {
    const list = await api.trpc('query', 'monitoring.rules', undefined, engineer);
    expect(list.status).toBe(200);
    expect(list.data.length).toBeGreaterThanOrEqual(7);
    expect((await api.trpc('query', 'monitoring.rules', undefined, viewer)).status).toBe(403);
    const input = { name: 'Hot H100', kind: 'gpu_temperature', threshold: 80, durationSeconds: 120, severity: 'critical', scope: { node: 'h100-a' } };
    expect((await api.trpc('mutation', 'monitoring.createRule', input, engineer)).status).toBe(403);
    const created = await api.trpc('mutation', 'monitoring.createRule', input, admin);
    expect(created.data).toMatchObject({ name: 'Hot H100', threshold: 80, enabled: true, scope: { node: 'h100-a' } });
    const off = await api.trpc('mutation', 'monitoring.updateRule', { id: created.data.id, enabled: false }, admin);
    expect(off.data.enabled).toBe(false);
    expect((await api.trpc('mutation', 'monitoring.deleteRule', { id: created.data.id }, engineer)).status).toBe(403);
    expect((await api.trpc('mutation', 'monitoring.deleteRule', { id: created.data.id }, admin)).status).toBe(200);
    expect(await t.db.select().from(alertRules).where(eq(alertRules.id, created.data.id))).toEqual([]);
  });

  it('webhooks: the URL is write-only (only its host comes back, nor is it audited); admins only', async () => {
    const secretUrl = 'http://127.0.0.1:9/hooks/T0/B0/supersecrettoken';
    expect((await api.trpc('mutation', 'monitoring.createWebhook', { name: 'ops', secretUrl }, engineer)).status).toBe(403);
    const created = await api.trpc('mutation', 'monitoring.createWebhook', { name: 'ops', secretUrl }, admin);
    expect(created.status).toBe(200);
    expect(created.data).toMatchObject({ name: 'ops', host: '127.0.0.1:9', enabled: true });
    const listed = await api.trpc('query', 'monitoring.webhooks', undefined, engineer);
    expect(JSON.stringify(listed.data)).not.toContain('supersecrettoken');
    expect(JSON.stringify(created.data)).not.toContain('supersecrettoken');
    const audit = await t.db.select().from(auditLog);
    expect(audit.some((a) => a.action === 'monitoring.createWebhook')).toBe(true);
    expect(JSON.stringify(audit)).not.toContain('supersecrettoken');
    // Port 9 (discard) refuses: the test reports the failure without the URL.
    const test = await api.trpc('mutation', 'monitoring.testWebhook', { id: created.data.id }, admin);
    expect(test.data).toMatchObject({ ok: false });
    expect(JSON.stringify(test.data)).not.toContain('supersecret');
    const bad = await api.trpc('mutation', 'monitoring.createWebhook', { name: 'x', secretUrl: 'javascript:alert(1)' }, admin);
    expect(bad.status).toBe(400);
    expect((await api.trpc('mutation', 'monitoring.deleteWebhook', { id: created.data.id }, admin)).status).toBe(200);
  });
});
