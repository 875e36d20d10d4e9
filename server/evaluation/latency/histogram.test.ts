import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadTestSamples } from '../../db/schema';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeDeployment, makeLoadTest, makeUser } from '../../testing/factories';
import { BUCKETS_MS, latencyHistogram } from './histogram';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('latency');
});
afterAll(async () => t?.drop());

async function log(row: { deploymentId: string; model: string; status?: number; ttft?: number | null; e2e: number; overhead?: number; itl?: number[] | null; variantId?: string; experimentId?: string; ago?: number }) {
  const at = new Date(Date.now() - (row.ago ?? 60_000)).toISOString();
  await t.db.execute(sql`INSERT INTO request_logs (created_at, model, deployment_id, status, ttft_ms, e2e_ms, overhead_ms, itl_ms, variant_id, experiment_id)
    VALUES (${at}, ${row.model}, ${row.deploymentId}, ${row.status ?? 200}, ${row.ttft ?? null}, ${row.e2e}, ${row.overhead ?? 0.5},
      ${row.itl ? `{${row.itl.join(',')}}` : null}::real[], ${row.variantId ?? null}, ${row.experimentId ?? null})`);
}

const countsByLe = (buckets: { le: number | null; count: number }[]) => Object.fromEntries(buckets.filter((b) => b.count > 0).map((b) => [String(b.le), b.count]));

it('buckets with vLLM\'s bounds (v <= le, values on a bound stay in it), percentiles like percentile_cont, errors and old rows left out', async () => {
  const { deployment } = await makeDeployment(t.db);
  // TTFT bounds (ms) start 1, 5, 10, 20, ..., 250, 500, ..., 2 560 000.
  for (const ttft of [5, 10, 10.5, 250, 3_000_000]) await log({ deploymentId: deployment.id, model: deployment.name, ttft, e2e: 1000 });
  await log({ deploymentId: deployment.id, model: deployment.name, status: 500, ttft: 1, e2e: 1 }); // an error: not counted
  await log({ deploymentId: deployment.id, model: deployment.name, ttft: 1, e2e: 1, ago: 48 * 3_600_000 }); // outside 24 h
  const h = await latencyHistogram(t.db, { scope: { kind: 'deployment', id: deployment.id }, metric: 'ttft', hours: 24 });
  expect(h.boundsMs).toEqual(BUCKETS_MS.ttft);
  expect(h.series).toHaveLength(1);
  expect(countsByLe(h.series[0]!.buckets)).toEqual({ '5': 1, '10': 1, '20': 1, '250': 1, null: 1 });
  expect(h.series[0]!.count).toBe(5);
  // percentile_cont over 5, 10, 10.5, 250, 3e6: p50 = 10.5, p90 = 250 + 0.6·(3e6 − 250).
  expect(h.series[0]!.percentiles!.p50).toBeCloseTo(10.5, 5);
  expect(h.series[0]!.percentiles!.p90).toBeCloseTo(250 + 0.6 * (3_000_000 - 250), 0);
  const wide = await latencyHistogram(t.db, { scope: { kind: 'model', name: deployment.name }, metric: 'ttft', hours: 72 });
  expect(wide.series[0]!.count).toBe(6);
});

it('ITL gaps are unnested one per gap, and an experiment gives one series per variant', async () => {
  const { deployment } = await makeDeployment(t.db);
  const experimentId = randomUUID();
  const [va, vb] = [randomUUID(), randomUUID()];
  await log({ deploymentId: deployment.id, model: 'exp', e2e: 100, ttft: 10, itl: [10, 25, 26, 75], experimentId, variantId: va });
  await log({ deploymentId: deployment.id, model: 'exp', e2e: 100, ttft: 10, itl: [100, 100], experimentId, variantId: vb });
  await log({ deploymentId: deployment.id, model: 'exp', e2e: 100, ttft: 10, itl: null, experimentId, variantId: vb });
  const h = await latencyHistogram(t.db, { scope: { kind: 'experiment', id: experimentId }, metric: 'itl' });
  const byKey = new Map(h.series.map((s) => [s.key, s]));
  // ITL bounds (ms): 10, 25, 50, 75, 100, 150, ...
  expect(countsByLe(byKey.get(va)!.buckets)).toEqual({ '10': 1, '25': 1, '50': 1, '75': 1 });
  expect(countsByLe(byKey.get(vb)!.buckets)).toEqual({ '100': 2 });
  const one = await latencyHistogram(t.db, { scope: { kind: 'variant', id: vb }, metric: 'e2e' });
  expect(one.series[0]!.count).toBe(2);
  // Overhead buckets are sub-millisecond: 0.5 ms sits on a bound.
  const overhead = await latencyHistogram(t.db, { scope: { kind: 'variant', id: va }, metric: 'overhead' });
  expect(countsByLe(overhead.series[0]!.buckets)).toEqual({ '0.5': 1 });
});

it('reads load-test samples (successful ones) and refuses gateway overhead for them', async () => {
  const owner = await makeUser(t.db);
  const run = await makeLoadTest(t.db, { ownerId: owner.id, name: 'run', targetUrl: 'http://x' });
  await t.db.insert(loadTestSamples).values([
    { loadTestId: run.id, seq: 1, startMs: 0, ttftMs: 40, e2eMs: 900, itlMs: [12, 30] },
    { loadTestId: run.id, seq: 2, startMs: 5, ttftMs: 60, e2eMs: 1500 },
    { loadTestId: run.id, seq: 3, startMs: 9, ttftMs: 1, e2eMs: 1, error: 'timeout' },
  ]);
  const e2e = await latencyHistogram(t.db, { scope: { kind: 'loadTest', id: run.id }, metric: 'e2e' });
  // E2E bounds (ms): 300, 500, 800, 1000, 1500, ...
  expect(countsByLe(e2e.series[0]!.buckets)).toEqual({ '1000': 1, '1500': 1 });
  const itl = await latencyHistogram(t.db, { scope: { kind: 'loadTest', id: run.id }, metric: 'itl' });
  expect(countsByLe(itl.series[0]!.buckets)).toEqual({ '25': 1, '50': 1 });
  await expect(latencyHistogram(t.db, { scope: { kind: 'loadTest', id: run.id }, metric: 'overhead' })).rejects.toThrow(/overhead comes from request logs/);
  await expect(latencyHistogram(t.db, { scope: { kind: 'model', name: 'x' }, metric: 'bogus' as 'ttft' })).rejects.toThrow();
});
