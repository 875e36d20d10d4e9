import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { experiments } from '../db/schema';
import { metricsRegistry } from '../core/metrics';
import { makeDeployment, makeExperiment } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { readEvents, startGatewayHarness, type GatewayHarness } from './testing/harness';

let h: GatewayHarness;
let a: OpenAIDouble;
let b: OpenAIDouble;
let depA: string;
let depB: string;
let nameA: string;
let nameB: string;
const chat = (m: string, extra: Record<string, unknown> = {}) => ({ model: m, messages: [{ role: 'user', content: 'hi' }], ...extra });

beforeAll(async () => {
  h = await startGatewayHarness('gwexp');
  a = await startOpenAIDouble({ tokens: 4, interTokenMs: 15 });
  b = await startOpenAIDouble({ tokens: 4, interTokenMs: 15 });
  ({ id: depA, name: nameA } = (await makeDeployment(h.t.db, {}, [a.url])).deployment);
  ({ id: depB, name: nameB } = (await makeDeployment(h.t.db, {}, [b.url])).deployment);
});
afterAll(async () => {
  await h?.close();
  await a?.close();
  await b?.close();
});

type LogRow = { user_id: string; deployment_id: string; experiment_id: string | null; variant_id: string | null; status: number; itl_ms: number[] | null; tpot_ms: number | null };

/** The experiment's request_logs rows (every answered request's row is buffered by the time its client has the answer). */
async function logs(experimentName: string): Promise<LogRow[]> {
  await h.gateway.flushLogs();
  const res = await h.t.db.execute(
    sql`SELECT user_id, deployment_id, experiment_id, variant_id, status, itl_ms, tpot_ms FROM request_logs WHERE model = ${experimentName} ORDER BY id`,
  );
  return res.rows as LogRow[];
}

test('an experiment name routes each user, sticky, to a variant, tags the response and the request log, and records ITL', async () => {
  const { experiment, variants } = await makeExperiment(h.t.db, {}, [
    { label: 'control', deploymentId: depA, weight: 1 },
    { label: 'candidate', deploymentId: depB, weight: 1 },
  ]);
  await h.gateway.refresh();
  const byLabel = new Map(variants.map((v) => [v.label, v]));
  const seen = new Map<string, string>();
  for (let u = 0; u < 12; u++) {
    const { key, userId } = await h.keyFor();
    for (let i = 0; i < 3; i++) {
      const res = await h.post('/v1/chat/completions', chat(experiment.name, { stream: true }), key);
      expect(res.status).toBe(200);
      const label = res.headers.get('x-enclave-variant')!;
      expect(byLabel.has(label)).toBe(true);
      expect(res.headers.get('x-enclave-variant-id')).toBe(byLabel.get(label)!.id);
      if (seen.has(userId)) expect(label).toBe(seen.get(userId)); // sticky
      seen.set(userId, label);
      await readEvents(res);
    }
  }
  expect(new Set(seen.values()).size).toBe(2); // 12 users: both arms drawn (fails with probability 2⁻¹¹)
  expect(a.received + b.received).toBe(36);
  // Engines serve their deployment's name, so the experiment's name is replaced by the arm's.
  expect([a.requests.at(-1)?.body?.model, b.requests.at(-1)?.body?.model].sort()).toEqual([nameA, nameB].sort());

  const rows = await logs(experiment.name);
  expect(rows).toHaveLength(36);
  for (const r of rows) {
    const v = byLabel.get(seen.get(r.user_id)!)!;
    expect(r).toMatchObject({ status: 200, experiment_id: experiment.id, variant_id: v.id, deployment_id: v.deploymentId });
    // 4 tokens sent 15 ms apart: three gaps (delivery may bunch two, so only their mean is checked).
    expect(r.itl_ms).toHaveLength(3);
    for (const gap of r.itl_ms!) expect(gap).toBeGreaterThanOrEqual(0);
    expect(r.tpot_ms).toBeCloseTo((r.itl_ms![0]! + r.itl_ms![1]! + r.itl_ms![2]!) / 3, 1);
    // The engine spaces tokens 15 ms apart; a loaded machine may bunch some reads, never all of them.
    expect(r.tpot_ms).toBeGreaterThan(2);
  }
  const text = await metricsRegistry().getSingleMetricAsString('enclave_gateway_itl_seconds');
  expect(text).toMatch(new RegExp(`enclave_gateway_itl_seconds_bucket\\{le="0.025",model="${experiment.name}"`));
  expect(text).toMatch(/le="80"/); // vLLM's ITL buckets
  expect(await metricsRegistry().getSingleMetricAsString('enclave_gateway_tpot_seconds')).toContain(`model="${experiment.name}"`);
});

test('outside its window, or stopped, the name answers 404; promoted, everyone gets the winner untagged', async () => {
  const { experiment, variants } = await makeExperiment(h.t.db, { startsAt: new Date(Date.now() + 3_600_000) }, [
    { label: 'a', deploymentId: depA, weight: 1 },
    { label: 'b', deploymentId: depB, weight: 1 },
  ]);
  await h.gateway.refresh();
  const { key } = await h.keyFor();
  const early = await h.post('/v1/chat/completions', chat(experiment.name), key);
  expect(early.status).toBe(404);
  expect(((await early.json()) as { error: { message: string } }).error.message).toMatch(/is not running/);

  await h.t.db.update(experiments).set({ startsAt: null, status: 'promoted', winnerVariantId: variants[1]!.id }).where(eq(experiments.id, experiment.id));
  await h.gateway.refresh();
  const before = b.received;
  for (let u = 0; u < 4; u++) {
    const res = await h.post('/v1/chat/completions', chat(experiment.name), (await h.keyFor()).key);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-enclave-variant')).toBe('b');
    await res.text();
  }
  expect(b.received - before).toBe(4);
  const served = (await logs(experiment.name)).filter((r) => r.status === 200);
  expect(served).toHaveLength(4);
  expect(served.every((r) => r.variant_id === null && r.deployment_id === depB)).toBe(true);

  await h.t.db.update(experiments).set({ status: 'stopped' }).where(eq(experiments.id, experiment.id));
  await h.gateway.refresh();
  const stopped = await h.post('/v1/chat/completions', chat(experiment.name), key);
  expect(stopped.status).toBe(404);
});

test('a key scoped to the experiment name may use it; one scoped elsewhere may not; /v1/models lists it', async () => {
  const { experiment } = await makeExperiment(h.t.db, {}, [
    { label: 'a', deploymentId: depA, weight: 1 },
    { label: 'b', deploymentId: depB, weight: 2 },
  ]);
  await h.gateway.refresh();
  const scoped = await h.keyFor('user', [experiment.name]);
  expect((await h.post('/v1/chat/completions', chat(experiment.name), scoped.key)).status).toBe(200);
  const other = await h.keyFor('user', ['something-else']);
  expect((await h.post('/v1/chat/completions', chat(experiment.name), other.key)).status).toBe(403);
  const list = await fetch(`${h.gateway.url}/v1/models`, { headers: { authorization: `Bearer ${scoped.key}` } });
  expect(((await list.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual([experiment.name]);
});
