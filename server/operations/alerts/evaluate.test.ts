import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { alertRules, alerts, allocations, deploymentEvents, requestLogs } from '../../db/schema';
import { ensureRequestLogPartitions } from '../../db/partitions';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeDeployment } from '../../testing/factories';
import { evaluateAlerts } from './evaluate';
import { DEFAULT_RULES } from './kinds';
import { listAlerts } from './list';
import { applyObservations } from './state';
import { insertRecordedNode, recordedSeries } from './testing/recorded';
import type { RuleView } from './types';

let t: TestDatabase;
const MIN = 60_000;

beforeAll(async () => {
  t = await createTestDatabase('alerts');
  await ensureRequestLogPartitions(t.db);
});
afterAll(async () => t?.drop());
beforeEach(async () => {
  await t.db.execute(sql`truncate alert_rules, alerts, gpu_nodes, deployments, request_logs cascade`);
});

async function onlyRule(kind: RuleView['kind'], over: Partial<typeof alertRules.$inferInsert> = {}) {
  const d = DEFAULT_RULES.find((r) => r.kind === kind)!;
  const [row] = await t.db.insert(alertRules).values({ ...d, ...over }).returning();
  return row!;
}

describe('state machine', () => {
  it('pending when the condition first holds, firing after the duration, resolved when it clears; one open row per subject', async () => {
    const row = await onlyRule('gpu_temperature', { durationSeconds: 300 });
    const rule = { ...row, scope: {} } as RuleView;
    const t0 = Date.parse('2026-07-14T10:00:00Z');
    const obs = (since: number) => [{ subject: 'n/gpu0', since, value: 90, message: 'hot', labels: {} }];

    expect(await applyObservations(t.db, rule, obs(t0), new Date(t0))).toEqual({ pending: 1, fired: 0, resolved: 0 });
    // Still holding 2 minutes later: still pending, still one row (twice, as two workers might).
    await applyObservations(t.db, rule, obs(t0), new Date(t0 + 2 * MIN));
    await applyObservations(t.db, rule, obs(t0), new Date(t0 + 2 * MIN));
    let rows = await t.db.select().from(alerts);
    expect(rows.map((r) => r.status)).toEqual(['pending']);
    expect(await applyObservations(t.db, rule, obs(t0), new Date(t0 + 5 * MIN))).toMatchObject({ fired: 1 });
    expect(await applyObservations(t.db, rule, obs(t0), new Date(t0 + 6 * MIN))).toMatchObject({ fired: 0 });
    expect(await applyObservations(t.db, rule, [], new Date(t0 + 7 * MIN))).toMatchObject({ resolved: 1 });
    rows = await t.db.select().from(alerts);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'resolved', firedAt: new Date(t0 + 5 * MIN), resolvedAt: new Date(t0 + 7 * MIN) });

    // Holding again opens a new alert beside the resolved one; a pending one that clears leaves no trace.
    await applyObservations(t.db, rule, obs(t0 + 8 * MIN), new Date(t0 + 8 * MIN));
    expect(await t.db.select().from(alerts)).toHaveLength(2);
    await applyObservations(t.db, rule, [], new Date(t0 + 9 * MIN));
    expect((await t.db.select().from(alerts)).map((r) => r.status)).toEqual(['resolved']);
  });

  it('the unique index refuses a second open row for the same rule and subject', async () => {
    const rule = await onlyRule('agent_silent');
    const row = { ruleId: rule.id, subject: 's', status: 'firing' as const, message: 'm', pendingSince: new Date() };
    await t.db.insert(alerts).values(row);
    await expect(t.db.insert(alerts).values(row)).rejects.toThrow();
  });
});

describe('evaluateAlerts on recorded data in the database', () => {
  it('seeds the default rules once when none exist', async () => {
    await Promise.all([evaluateAlerts(t.db), evaluateAlerts(t.db)]);
    const rules = await t.db.select().from(alertRules);
    expect(rules.map((r) => r.kind).sort()).toEqual(DEFAULT_RULES.map((r) => r.kind).sort());
  });

  it('an hour of H100 samples with a 10-minute hot spell fires at once (the run is in the samples), and clears when it cools', async () => {
    await onlyRule('gpu_temperature');
    const now = Date.now();
    const hot = recordedSeries(240, now, (i) => ({ temperatureC: i >= 200 ? 89 : 53 }));
    await insertRecordedNode(t.db, 'h100-a', { 0: hot, 1: recordedSeries(240, now) });
    expect(await evaluateAlerts(t.db, { now: new Date(now) })).toMatchObject({ firing: 1, fired: 1 });
    const list = await listAlerts(t.db);
    expect(list.firing).toHaveLength(1);
    expect(list.firing[0]).toMatchObject({ subject: 'h100-a/gpu0', value: 89, kind: 'gpu_temperature', severity: 'critical' });
    // Only duration + 2 min of history is read each time, so the run is known to be at least that old.
    expect(list.firing[0]!.pendingSince.getTime()).toBeLessThanOrEqual(now - 5 * MIN);

    // The next readings are cool again.
    await t.db.execute(sql`update gpu_samples set temperature_c = 55 where at >= ${new Date(now - 30_000)}`);
    expect(await evaluateAlerts(t.db, { now: new Date(now) })).toMatchObject({ firing: 0, resolved: 1 });
    expect((await listAlerts(t.db)).recent[0]).toMatchObject({ status: 'resolved', subject: 'h100-a/gpu0' });
  });

  it('allocated-but-idle names the deployment holding the GPU', async () => {
    await onlyRule('gpu_allocated_idle', { durationSeconds: 600 });
    const now = Date.now();
    const node = await insertRecordedNode(t.db, 'h100-b', { 0: recordedSeries(80, now, () => ({ utilizationPct: 1 })) });
    const { deployment, replicas } = await makeDeployment(t.db, { name: 'llama-70b' }, ['http://127.0.0.1:1']);
    await t.db.insert(allocations).values({ nodeId: node.id, gpuIndex: 0, holderKind: 'replica', holderId: replicas[0]!.id, memoryBytes: 40 * 2 ** 30, createdAt: new Date(now - 15 * MIN) });
    await evaluateAlerts(t.db, { now: new Date(now) });
    const [a] = (await listAlerts(t.db)).firing;
    expect(a!.message).toContain(deployment.name);
  });

  it('agent silence, replica restarts, error rate and p95 TTFT from real rows', async () => {
    for (const kind of ['agent_silent', 'replica_restarts', 'deployment_error_rate', 'deployment_ttft_p95'] as const) await onlyRule(kind);
    const now = Date.now();
    await insertRecordedNode(t.db, 'quiet', {}, new Date(now - 5 * MIN));
    const { deployment, replicas } = await makeDeployment(t.db, { name: 'qwen' }, ['http://127.0.0.1:2']);
    for (const m of [8, 4, 1]) await t.db.insert(deploymentEvents).values({ deploymentId: deployment.id, replicaId: replicas[0]!.id, kind: 'restart', message: 'restart', at: new Date(now - m * MIN) });
    // 40 requests in the last 5 minutes: 4 failed (10 %), TTFTs 100..4000 ms (p95 ≈ 3800 ms).
    await t.db.insert(requestLogs).values(
      Array.from({ length: 40 }, (_, i) => ({
        createdAt: new Date(now - (i + 1) * 5_000),
        model: 'qwen',
        deploymentId: deployment.id,
        status: i < 4 ? 502 : 200,
        ttftMs: (i + 1) * 100,
        e2eMs: 5000,
        overheadMs: 1,
      })),
    );
    await evaluateAlerts(t.db, { now: new Date(now) });
    const firing = (await listAlerts(t.db)).firing.map((a) => [a.kind, a.subject, a.value]);
    expect(firing).toEqual(
      expect.arrayContaining([
        ['agent_silent', 'quiet', 300],
        ['replica_restarts', `qwen/replica-${replicas[0]!.id.slice(0, 8)}`, 3],
        ['deployment_error_rate', 'qwen', 10],
        ['deployment_ttft_p95', 'qwen', 3805],
      ]),
    );
    expect(firing).toHaveLength(4);
    // Ten minutes later the restarts, the errors and the slow requests are out of their windows; the node stays silent.
    await evaluateAlerts(t.db, { now: new Date(now + 10 * MIN) });
    expect((await listAlerts(t.db)).firing.map((a) => a.kind)).toEqual(['agent_silent']);
  });

  it('disabling a rule resolves its firing alerts', async () => {
    const rule = await onlyRule('agent_silent');
    await insertRecordedNode(t.db, 'gone', {}, new Date(Date.now() - 10 * MIN));
    expect(await evaluateAlerts(t.db)).toMatchObject({ firing: 1 });
    await t.db.update(alertRules).set({ enabled: false }).where(eq(alertRules.id, rule.id));
    expect(await evaluateAlerts(t.db)).toMatchObject({ firing: 0, resolved: 1 });
  });
});

