import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { makeDeployment } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';
import { readEvents, startGatewayHarness, type GatewayHarness } from './testing/harness';

let h: GatewayHarness;
let engine: OpenAIDouble;
let deployment: { id: string; name: string };
let replicaId: string;
let caller: { key: string; keyId: string; userId: string };

beforeAll(async () => {
  h = await startGatewayHarness('gwstream');
  engine = await startOpenAIDouble({ firstTokenMs: 60, interTokenMs: 40, tokens: 6 });
  const made = await makeDeployment(h.t.db, {}, [engine.url]);
  deployment = made.deployment;
  replicaId = made.replicas[0]!.id;
  await h.gateway.refresh();
  caller = await h.keyFor();
});
afterAll(async () => {
  await h?.close();
  await engine?.close();
});

const messages = [{ role: 'user', content: 'one two three four' }];

async function logRows(where = sql`true`) {
  await h.gateway.flushLogs();
  const res = await h.t.db.execute(sql`SELECT * FROM request_logs WHERE ${where} ORDER BY id`);
  return res.rows as Record<string, unknown>[];
}

test('a stream is relayed event by event, in order, as the engine produces it', async () => {
  const start = performance.now();
  const res = await h.post('/v1/chat/completions', { model: deployment.name, messages, stream: true }, caller.key);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
  expect(Number(res.headers.get('x-enclave-overhead-ms'))).toBeGreaterThan(0);
  const events = await readEvents(res, start);
  const tokens = events.filter((e) => e.data.includes('"content":"tok'));
  expect(tokens.map((e) => JSON.parse(e.data).choices[0].delta.content)).toEqual(['tok0 ', 'tok1 ', 'tok2 ', 'tok3 ', 'tok4 ', 'tok5 ']);
  expect(events.at(-1)!.data).toBe('[DONE]');
  // Not buffered: the tokens arrive spread over the engine's ~200 ms of generation, not all at the end.
  expect(tokens[0]!.at).toBeGreaterThanOrEqual(55);
  // (Buffered, they would arrive together; a loaded machine may bunch a few, hence not the full 200 ms.)
  expect(tokens.at(-1)!.at - tokens[0]!.at).toBeGreaterThan(100);
  // Usage was requested from the engine for the log, but the client did not ask for it.
  expect(engine.requests.at(-1)!.body).toMatchObject({ stream_options: { include_usage: true } });
  expect(events.some((e) => e.data.includes('"usage":{'))).toBe(false);
});

test('the usage event reaches a client that asked for it', async () => {
  const res = await h.post(
    '/v1/chat/completions',
    { model: deployment.name, messages, stream: true, stream_options: { include_usage: true } },
    caller.key,
  );
  const events = await readEvents(res);
  const usage = events.map((e) => (e.data === '[DONE]' ? {} : JSON.parse(e.data))).find((e) => e.usage);
  expect(usage).toMatchObject({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 6 } });

  // stream_options present without include_usage: the gateway still asks the engine, and still hides it.
  const declined = await h.post(
    '/v1/chat/completions',
    { model: deployment.name, messages, stream: true, stream_options: { include_usage: false } },
    caller.key,
  );
  expect((await readEvents(declined)).some((e) => e.data.includes('"usage":{'))).toBe(false);
  expect(engine.requests.at(-1)!.body).toMatchObject({ stream_options: { include_usage: true }, messages });
});

test('each request writes a request_logs row with tokens and timings, and never the text', async () => {
  const marker = await h.keyFor();
  const stream = await h.post('/v1/chat/completions', { model: deployment.name, messages, stream: true, max_tokens: 3 }, marker.key);
  await stream.text();
  const plain = await h.post('/v1/chat/completions', { model: deployment.name, messages }, marker.key);
  expect(Number(plain.headers.get('x-enclave-overhead-ms'))).toBeGreaterThan(0);
  expect(((await plain.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(6);
  const completion = await h.post('/v1/completions', { model: deployment.name, prompt: 'once upon', stream: true }, marker.key);
  expect(await completion.text()).toContain('"text":"tok0 "');

  const rows = await logRows(sql`api_key_id = ${marker.keyId}`);
  expect(rows).toHaveLength(3);
  const [s, p, c] = rows as Record<string, number & string>[];
  expect(s).toMatchObject({
    user_id: marker.userId,
    model: deployment.name,
    deployment_id: deployment.id,
    replica_id: replicaId,
    status: 200,
    error_type: null,
    stream: 1,
    prompt_tokens: 4,
    completion_tokens: 3,
    retries: 0,
  });
  expect(String(s!.client_address)).toMatch(/127\.0\.0\.1/);
  expect(s!.ttft_ms).toBeGreaterThanOrEqual(55);
  expect(s!.e2e_ms).toBeGreaterThanOrEqual(s!.ttft_ms);
  expect(s!.overhead_ms).toBeGreaterThan(0);
  expect(s!.overhead_ms).toBeLessThan(s!.e2e_ms);
  expect(p).toMatchObject({ stream: 0, prompt_tokens: 4, completion_tokens: 6, ttft_ms: null, status: 200 });
  expect(c).toMatchObject({ stream: 1, prompt_tokens: 2, completion_tokens: 6 });
  expect(JSON.stringify(rows)).not.toMatch(/one two|tok0|once upon/);
  const used = await h.t.db.execute(sql`SELECT last_used_at FROM api_keys WHERE id = ${marker.keyId}`);
  expect(used.rows[0]!.last_used_at).not.toBeNull();
});

test('a client that disconnects mid-stream aborts the engine request, and the log says so', async () => {
  const slow = await startOpenAIDouble({ firstTokenMs: 10, interTokenMs: 100, tokens: 50 });
  const { deployment: dep } = await makeDeployment(h.t.db, {}, [slow.url]);
  await h.gateway.refresh();
  const res = await h.post('/v1/chat/completions', { model: dep.name, messages, stream: true }, caller.key);
  const reader = res.body!.getReader();
  await reader.read();
  await reader.cancel();
  await until('the engine to see its stream abandoned', async () => slow.abandoned > 0, 2_000);
  expect(slow.abandoned).toBe(1);
  expect(slow.active).toBe(0);
  const rows = await until('the 499 to be logged', async () => {
    const logged = await logRows(sql`deployment_id = ${dep.id}`);
    return logged.length > 0 && logged;
  });
  expect(rows).toEqual([expect.objectContaining({ status: 499, error_type: 'client_closed' })]);
  await slow.close();
});

test('the histograms are exported with model, deployment and status labels', async () => {
  const text = await (await fetch(h.gateway.url + '/metrics')).text();
  for (const name of ['enclave_gateway_ttft_seconds', 'enclave_gateway_e2e_seconds', 'enclave_gateway_overhead_seconds']) {
    expect(text).toContain(`# TYPE ${name} histogram`);
    expect(text).toMatch(new RegExp(`${name}_count\\{model="${deployment.name}",deployment="${deployment.id}",status="200"\\} [1-9]`));
  }
});
