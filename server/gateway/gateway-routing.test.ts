import { sql } from 'drizzle-orm';
import net from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { makeDeployment } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';
import { readEvents, startGatewayHarness, type GatewayHarness } from './testing/harness';

let h: GatewayHarness;
let key: string;
const doubles: OpenAIDouble[] = [];
const chat = (m: string, extra: Record<string, unknown> = {}) => ({ model: m, messages: [{ role: 'user', content: 'hi' }], ...extra });

beforeAll(async () => {
  h = await startGatewayHarness('gwroute');
  key = (await h.keyFor()).key;
});
afterAll(async () => {
  await h?.close();
  await Promise.all(doubles.map((d) => d.close()));
});

async function double(opts: Parameters<typeof startOpenAIDouble>[0] = {}) {
  const d = await startOpenAIDouble(opts);
  doubles.push(d);
  return d;
}

/** A URL nothing listens on: connecting to it is refused. */
async function deadUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}`;
}

async function deploy(urls: string[]) {
  const made = await makeDeployment(h.t.db, {}, urls);
  await h.gateway.refresh();
  return made;
}

async function logsFor(deploymentId: string) {
  await h.gateway.flushLogs();
  const res = await h.t.db.execute(
    sql`SELECT status, retries, replica_id, error_type FROM request_logs WHERE deployment_id = ${deploymentId} ORDER BY id`,
  );
  return res.rows as { status: number; retries: number; replica_id: string; error_type: string | null }[];
}

test('a refused connection is retried on another replica and the request succeeds', async () => {
  const live = await double();
  const { deployment, replicas } = await deploy([await deadUrl(), live.url]);
  for (let i = 0; i < 4; i++) {
    const res = await h.post('/v1/chat/completions', chat(deployment.name, { stream: i % 2 === 0 }), key);
    expect(res.status).toBe(200);
    await res.text();
  }
  const rows = await logsFor(deployment.id);
  expect(rows).toHaveLength(4);
  expect(rows.every((r) => r.status === 200 && r.replica_id === replicas[1]!.id)).toBe(true);
  expect(rows.reduce((n, r) => n + r.retries, 0)).toBeGreaterThanOrEqual(1);
});

test('a 5xx before the first byte is retried elsewhere; with nowhere left, the engine error is relayed', async () => {
  const broken = await double({ failure: { status: 500, message: 'engine double failed on purpose' } });
  const live = await double();
  const { deployment } = await deploy([broken.url, live.url]);
  for (let i = 0; i < 3; i++) expect((await h.post('/v1/chat/completions', chat(deployment.name, { stream: true }), key)).status).toBe(200);
  expect(broken.received).toBeGreaterThanOrEqual(1);

  const alone = await deploy([broken.url]);
  const res = await h.post('/v1/chat/completions', chat(alone.deployment.name), key);
  expect(res.status).toBe(500);
  expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/on purpose/);

  const unreachable = await deploy([await deadUrl(), await deadUrl()]);
  const down = await h.post('/v1/chat/completions', chat(unreachable.deployment.name), key);
  expect(down.status).toBe(503);
  expect(((await down.json()) as { error: { code: string } }).error.code).toBe('replica_unreachable');
  const rows = await logsFor(unreachable.deployment.id);
  expect(rows).toEqual([expect.objectContaining({ status: 503, retries: 1 })]);
});

test('nothing is retried once bytes reached the client: a stream that breaks ends with an error event', async () => {
  const flaky = await double({ failure: { dropAfterTokens: 2 }, tokens: 10 });
  const live = await double();
  const { deployment } = await deploy([flaky.url]);
  const res = await h.post('/v1/chat/completions', chat(deployment.name, { stream: true }), key);
  expect(res.status).toBe(200);
  const events = await readEvents(res);
  expect(events.some((e) => e.data.includes('tok0'))).toBe(true);
  expect(events.at(-1)!.data).toContain('"code":"upstream_disconnected"');
  expect(flaky.received).toBe(1);
  expect(live.received).toBe(0);
});

test('the replica with the fewest outstanding requests is chosen', async () => {
  const a = await double({ tokens: 30, interTokenMs: 50 });
  const b = await double({ tokens: 30, interTokenMs: 50 });
  const { deployment } = await deploy([a.url, b.url]);
  const long = h.post('/v1/chat/completions', chat(deployment.name, { stream: true }), key);
  await until('the long stream to reach a replica', async () => a.active + b.active > 0);
  const busy = a.active === 1 ? a : b;
  const idle = busy === a ? b : a;
  for (let i = 0; i < 4; i++) {
    const res = await h.post('/v1/chat/completions', chat(deployment.name, { max_tokens: 1 }), key);
    expect(res.status).toBe(200);
  }
  // Round robin would have sent two of the four short requests to the busy replica.
  expect(busy.received).toBe(1);
  expect(idle.received).toBe(4);
  await (await long).text();
});
