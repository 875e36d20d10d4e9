import net from 'node:net';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { apiKeys } from '../db/schema';
import { parseEnv } from '../core/env';
import { createApiKey } from '../security/api-keys';
import { makeDeployment, makeUser } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';
import { createRequestLogWriter, type RequestLogRow } from './request-log';
import { startGatewayServer } from './server';
import { startGatewayHarness, type GatewayHarness } from './testing/harness';

// The /v1 listener as an attacker meets it: bodies too big, too deep, or poisoned for the request log;
// clients that trickle or hoard connections; what Node's own HTTP parser refuses; and one key trying
// to take every engine sequence. Each answer must reach the client, in OpenAI's error shape.
let h: GatewayHarness;
let engine: OpenAIDouble;
let model: string;
const CONNECTION_CAP = 4;

beforeAll(async () => {
  engine = await startOpenAIDouble({ tokens: 3 });
  h = await startGatewayHarness('gwhostile', { GATEWAY_MAX_CONCURRENT_PER_KEY: '2' }, {
    hardening: parseEnv({ ENCLAVE_BODY_IDLE_TIMEOUT_MS: '1500', ENCLAVE_HEADERS_TIMEOUT_MS: '2000' }),
  });
  const { deployment } = await makeDeployment(h.t.db, {}, [engine.url]);
  model = deployment.name;
  await h.gateway.refresh();
});

afterAll(async () => {
  await h?.close();
  await engine?.close();
});

const chat = (extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

async function openAiError(res: Response) {
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  const body = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
  expect(body.error).toMatchObject({ message: expect.any(String), type: expect.any(String) });
  return { status: res.status, ...body.error };
}

/** Sends raw bytes and returns what came back before the server closed (or `ms` passed). */
function raw(port: number, data: string, ms = 3000): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(data));
    socket.on('data', (d) => (out += d));
    socket.on('close', () => resolve(out));
    socket.on('error', () => resolve(out));
    setTimeout(() => {
      socket.destroy();
      resolve(out);
    }, ms).unref();
  });
}

/** Status, head and (for answers with a Content-Length, as every refusal has) the JSON body. */
function parseRaw(text: string) {
  const [head = '', body] = text.split('\r\n\r\n');
  const sized = /content-length: \d+/i.test(head);
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), head, body: sized && body ? JSON.parse(body) : undefined };
}

test('a 5 MiB body sent with fetch gets its 413 in OpenAI shape, every time, declared or chunked', async () => {
  const { key } = await h.keyFor();
  const big = JSON.stringify(chat({ messages: [{ role: 'user', content: 'x'.repeat(5 * 1024 * 1024) }] }));
  const statuses: number[] = [];
  for (let i = 0; i < 20; i++) {
    const res = await h.post('/v1/chat/completions', big, key);
    const e = await openAiError(res);
    statuses.push(e.status);
    expect(e.code).toBe('request_too_large');
  }
  expect(statuses).toEqual(Array(20).fill(413));
  // Without a Content-Length the limit is found while reading: the client still gets to read the answer.
  const chunked = new ReadableStream({
    start(c) {
      for (let i = 0; i < 5; i++) c.enqueue(new TextEncoder().encode(big.slice(i * 1024 * 1024, (i + 1) * 1024 * 1024)));
      c.enqueue(new TextEncoder().encode(big.slice(5 * 1024 * 1024)));
      c.close();
    },
  });
  const res = await fetch(`${h.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: chunked,
    duplex: 'half',
  } as RequestInit);
  expect((await openAiError(res)).status).toBe(413);
});

test('bodies nested past 64 levels get a 400 in OpenAI shape on every endpoint; ordinary nesting passes', async () => {
  const { key } = await h.keyFor();
  const deep = `{"model":"${model}","messages":[{"role":"user","content":"hi"}],"x":${'['.repeat(5000)}${']'.repeat(5000)}}`;
  for (const path of ['/v1/chat/completions', '/v1/completions']) {
    const e = await openAiError(await h.post(path, deep, key));
    expect([e.status, e.type, e.message]).toEqual([400, 'invalid_request_error', 'The request body nests deeper than 64 levels']);
  }
  const toolSchema = { type: 'object', properties: { a: { type: 'object', properties: { b: { type: 'array', items: { type: 'string' } } } } } };
  const ok = await h.post('/v1/chat/completions', chat({ tools: [{ type: 'function', function: { name: 'f', parameters: toolSchema } }] }), key);
  expect(ok.status).toBe(200);
});

test('a NUL in model is refused naming it, and never costs another key its log row or last_used_at', async () => {
  const a = await h.keyFor();
  const b = await h.keyFor();
  const [bad, good] = await Promise.all([h.post('/v1/chat/completions', chat({ model: 'x\u0000y' }), a.key), h.post('/v1/chat/completions', chat(), b.key)]);
  expect(await openAiError(bad)).toMatchObject({ status: 400, param: 'model', message: "Invalid value for 'model': contains a NUL character (\\u0000)" });
  expect(good.status).toBe(200);
  await good.text();
  const lone = await h.post('/v1/chat/completions', `{"model":"a\\ud800","messages":[{"role":"user","content":"hi"}]}`, a.key);
  expect(await openAiError(lone)).toMatchObject({ status: 400, param: 'model' });
  await until('both keys logged', async () => {
    await h.gateway.flushLogs();
    const rows = await h.t.db.execute<{ api_key_id: string; status: number }>(sql`SELECT api_key_id, status FROM request_logs WHERE api_key_id IN (${a.keyId}, ${b.keyId})`);
    return rows.rows.length >= 3 ? rows.rows : undefined;
  });
  const [usedB] = await h.t.db.select({ at: apiKeys.lastUsedAt }).from(apiKeys).where(eq(apiKeys.id, b.keyId));
  expect(usedB!.at).not.toBeNull();
});

test('a batch of request logs with a row that cannot be stored keeps every other row and the keys it used', async () => {
  const user = await makeUser(h.t.db);
  const key = await createApiKey(h.t.db, { userId: user.id, name: 'batch' });
  const errors: unknown[] = [];
  const writer = createRequestLogWriter(h.t.db, { intervalMs: 60_000, onError: (e) => errors.push(e) });
  const row = (over: Partial<RequestLogRow>): RequestLogRow => ({
    createdAt: new Date(),
    apiKeyId: key.id,
    userId: user.id,
    model: 'batch-model',
    deploymentId: null,
    replicaId: null,
    status: 200,
    errorType: null,
    stream: false,
    promptTokens: 1,
    completionTokens: 1,
    ttftMs: null,
    e2eMs: 1,
    overheadMs: 0.1,
    retries: 0,
    clientAddress: '127.0.0.1',
    experimentId: null,
    variantId: null,
    tpotMs: null,
    itlMs: null,
    ...over,
  });
  writer.push(row({ model: 'ok-1' }));
  // Text is made storable on the way in; a row that still fails on its own (here a malformed uuid) is the only one lost.
  writer.push(row({ model: 'nul-\u0000-model', clientAddress: 'a\ud800' }));
  writer.push(row({ model: 'broken', deploymentId: 'not-a-uuid' }));
  writer.push(row({ model: 'ok-2' }));
  await writer.close();
  const rows = await h.t.db.execute<{ model: string; client_address: string }>(sql`SELECT model, client_address FROM request_logs WHERE user_id = ${user.id} ORDER BY model`);
  expect(rows.rows.map((r) => r.model)).toEqual(['nul--model', 'ok-1', 'ok-2']);
  expect(rows.rows.find((r) => r.model === 'nul--model')!.client_address).toBe('a\ufffd');
  expect(errors).toHaveLength(1);
  const [used] = await h.t.db.select({ at: apiKeys.lastUsedAt }).from(apiKeys).where(eq(apiKeys.id, key.id));
  expect(used!.at).not.toBeNull();
});

test("what Node's HTTP parser refuses comes back as JSON saying why", async () => {
  const port = h.gateway.port;
  const cases: [string, number][] = [
    ['garbage\r\n\r\n', 400],
    [`GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
    ['POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 0\r\n\r\n', 417],
    ['CONNECT 169.254.169.254:80 HTTP/1.1\r\nHost: 169.254.169.254:80\r\n\r\n', 405],
    ['POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n', 400],
  ];
  for (const [request, status] of cases) {
    const answer = parseRaw(await raw(port, request));
    expect([answer.status, typeof answer.body?.error?.message]).toEqual([status, 'string']);
    expect(answer.head).toMatch(/content-type: application\/json/i);
  }
});

test('a body that stalls is answered 408 and closed; a client cannot hold more than its share of connections', async () => {
  const { key } = await h.keyFor();
  const started = Date.now();
  const stalled = parseRaw(
    await raw(h.gateway.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":`, 10_000),
  );
  expect(stalled.status).toBe(408);
  expect(stalled.body.error.code).toBe('request_timeout');
  expect(Date.now() - started).toBeLessThan(8_000);

  // Half-sent requests hoarding sockets: the cap'th + 1 is told why and closed; the others are not hurt.
  // A listener of its own, whose cap counts loopback (exempt in production, and every test client is on it).
  const capped = await startGatewayServer({
    port: 0,
    host: '127.0.0.1',
    db: h.t.db,
    env: parseEnv({}),
    masterKey: h.masterKey,
    hardening: parseEnv({ ENCLAVE_MAX_CONNECTIONS_PER_CLIENT: String(CONNECTION_CAP) }),
    exemptFromConnectionCap: () => false,
  });
  try {
    const sockets = await Promise.all(
      Array.from({ length: CONNECTION_CAP }, () => new Promise<net.Socket>((resolve) => {
        const s = net.connect(capped.port, '127.0.0.1', () => resolve(s));
        s.on('error', () => {});
        s.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{');
      })),
    );
    await until('the listener to hold every connection', () => new Promise<boolean>((resolve) => capped.server.getConnections((_, n) => resolve(n >= CONNECTION_CAP))));
    const refused = parseRaw(await raw(capped.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect([refused.status, refused.body.error.code]).toEqual([429, 'too_many_connections']);
    sockets[0]!.destroy();
    await until('a slot is free again', async () => {
      const again = parseRaw(await raw(capped.port, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      return again.status === 200 ? true : undefined;
    });
    for (const s of sockets) s.destroy();
  } finally {
    await capped.close();
  }
});

test('one key may have only its share of requests in flight; other keys and uncapped keys are not held back', async () => {
  // Streams of 3 s: the capped key's two must still be open when its third request arrives, even on a
  // loaded machine (0.9 s streams ended first there, and the third was let through).
  engine.set({ interTokenMs: 150, tokens: 20 });
  try {
    const a = await h.keyFor();
    const b = await h.keyFor();
    const open = [h.post('/v1/chat/completions', chat({ stream: true }), a.key), h.post('/v1/chat/completions', chat({ stream: true }), a.key)];
    const first = await Promise.all(open);
    expect(first.map((r) => r.status)).toEqual([200, 200]);
    const third = await openAiError(await h.post('/v1/chat/completions', chat(), a.key));
    expect(third).toMatchObject({ status: 429, type: 'rate_limit_error', code: 'too_many_concurrent_requests' });
    expect((await h.post('/v1/chat/completions', chat(), b.key)).status).toBe(200);
    // A load test's own key has no cap (api_keys.max_concurrent = 0).
    const user = await makeUser(h.t.db);
    const loadKey = await createApiKey(h.t.db, { userId: user.id, name: 'load', maxConcurrent: 0 });
    const many = await Promise.all(Array.from({ length: 4 }, () => h.post('/v1/chat/completions', chat({ stream: true }), loadKey.key)));
    expect(many.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    await Promise.all([...first, ...many].map((r) => r.text()));
    // Finished streams give their slots back.
    expect((await h.post('/v1/chat/completions', chat(), a.key)).status).toBe(200);
  } finally {
    engine.set({ interTokenMs: 0, tokens: 3 });
  }
});
