import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { parseEnv } from '../core/env';
import { closeRedis } from '../core/redis';
import { auditLog, messages } from '../db/schema';
import { startGatewayServer, type GatewayServer } from '../gateway/server';
import { createApiKey } from '../security/api-keys';
import { createOutboundPolicy } from '../security/outbound/policy';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { makeDeployment } from '../testing/factories';
import { startToolCallingDouble, type ToolCallingDouble } from '../testing/tool-calling-double';
import { invokeTool } from './invoke';
import { REPLAY_WINDOW_MS, SIGNATURE_HEADER, signEnclaveBody, TIMESTAMP_HEADER, verifyEnclaveSignature } from './signature';

/**
 * Plugins through webhooks, end to end: the real API and gateway, a scripted tool-calling double as the
 * engine, and a plugin (an HTTP server here) that checks every request's signature and timestamp with
 * the verifier plugin authors get. The plugin listens on 127.0.0.1, which the outbound policy refuses
 * unless allowed: this install allows exactly that address.
 */
process.env.ENCLAVE_OUTBOUND_ALLOW = '127.0.0.1';
process.env.REDIS_PREFIX = testRedisPrefix('tools');

const SECRET = 'plugin-secret-0123456789';
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let engine: ToolCallingDouble;
let gateway: GatewayServer;
let client: Redis;
let plugin: http.Server;
let pluginUrl: string;
const masterKey = randomBytes(32);
type Session = Awaited<ReturnType<typeof api.userSession>>;
let admin: Session, alice: Session, bob: Session;
let team: string;

/** What the plugin received, with the verifier's verdict on each request. */
const received: { path: string; body: string; headers: http.IncomingHttpHeaders; verdict: ReturnType<typeof verifyEnclaveSignature> }[] = [];

function startPlugin(): Promise<void> {
  plugin = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const verdict = verifyEnclaveSignature({ secret: SECRET, body, timestamp: req.headers[TIMESTAMP_HEADER] as string, signature: req.headers[SIGNATURE_HEADER] as string });
      received.push({ path: req.url!, body, headers: req.headers, verdict });
      if (!verdict.ok) return res.writeHead(401).end(verdict.reason);
      const { arguments: args } = JSON.parse(body) as { arguments: { city?: string } };
      if (req.url === '/slow') return void setTimeout(() => res.writeHead(200).end('too late'), 2_000);
      if (req.url === '/big') return res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(5_000));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ forecast: `sunny in ${args.city}` }));
    });
  });
  return new Promise((resolve) => plugin.listen(0, '127.0.0.1', () => {
    pluginUrl = `http://127.0.0.1:${(plugin.address() as AddressInfo).port}`;
    resolve();
  }));
}

const weatherSchema = { type: 'object', properties: { city: { type: 'string', description: 'The city' } }, required: ['city'] };
const createTool = (over: Record<string, unknown> = {}, who: Session = admin) =>
  api.trpc('mutation', 'tools.create', { name: 'weather', description: 'Weather by city', parameters: JSON.stringify(weatherSchema), endpoint: `${pluginUrl}/weather`, secret: SECRET, ...over }, who.cookie);

beforeAll(async () => {
  t = await createTestDatabase('tools');
  engine = await startToolCallingDouble({ arguments: { city: 'Oslo' } });
  await makeDeployment(t.db, { name: 'tooly', tools: true }, [engine.url]);
  // The same engine under a deployment not marked tool-capable.
  await makeDeployment(t.db, { name: 'plain' }, [engine.url]);
  await startPlugin();
  client = new Redis('redis://127.0.0.1:6379');
  const env = parseEnv({ ENCLAVE_DATA_DIR: '/tmp/enclave-gateway-test', REDIS_PREFIX: process.env.REDIS_PREFIX });
  gateway = await startGatewayServer({ port: 0, host: '127.0.0.1', db: t.db, env, redis: client, masterKey, routingRefreshMs: 200, authCacheMs: 200 });
  api = await startApiTestServer({ db: t.db, masterKey, gatewayUrl: gateway.url, env: { REDIS_PREFIX: process.env.REDIS_PREFIX, ENCLAVE_OUTBOUND_ALLOW: '127.0.0.1' } });
  [admin, alice, bob] = await Promise.all([api.userSession('admin'), api.userSession('user'), api.userSession('user')]);
  team = (await api.trpc('mutation', 'groups.create', { name: 'plugin users' }, admin.cookie)).data.id;
  expect((await api.trpc('mutation', 'groups.addMember', { groupId: team, userId: alice.user.id }, admin.cookie)).status).toBe(200);
});
afterAll(async () => {
  await api?.close();
  await gateway?.close();
  await engine?.close();
  await new Promise((resolve) => plugin?.close(resolve));
  const keys = await client.keys(`${process.env.REDIS_PREFIX}:*`);
  if (keys.length) await client.del(...keys);
  client.disconnect();
  await closeRedis();
  await t?.drop();
});

async function chat(who: Session, model = 'tooly', content = 'What is the weather in Oslo?') {
  const conversationId = (await api.trpc('mutation', 'conversations.create', {}, who.cookie)).data.id as string;
  engine.requests.length = 0;
  const res = await api.stream('chat.send', { conversationId, model, parentId: null, content, maxTokens: 64 }, { cookie: who.cookie });
  expect(res.status).toBe(200);
  const text = res.events.filter((e) => e.event === 'delta').map((e) => (e.data as { text: string }).text).join('');
  return { conversationId, events: res.events, text };
}
const toolMessage = (request: Record<string, unknown>) => (request.messages as { role: string; content: string; tool_call_id?: string }[]).find((m) => m.role === 'tool');

describe('admin API', () => {
  it('creates, lists, updates, grants and deletes tools; the secret is never returned', async () => {
    const created = await createTool({ name: 'crud-tool' });
    expect(created.status).toBe(200);
    expect(created.data).toMatchObject({ name: 'crud-tool', parameters: weatherSchema, timeoutMs: 10_000, maxResponseBytes: 65_536, enabled: true, groupIds: [] });
    const id = created.data.id as string;
    expect((await api.trpc('mutation', 'tools.grant', { toolId: id, groupId: team }, admin.cookie)).data.groupIds).toEqual([team]);
    expect((await api.trpc('mutation', 'tools.update', { id, description: 'Changed', timeoutMs: 500 }, admin.cookie)).data).toMatchObject({ description: 'Changed', timeoutMs: 500, groupIds: [team] });
    const listed = await api.trpc('query', 'tools.list', undefined, admin.cookie);
    expect(JSON.stringify(listed.data)).not.toContain(SECRET);
    expect((await api.trpc('mutation', 'tools.revoke', { toolId: id, groupId: team }, admin.cookie)).data.groupIds).toEqual([]);
    expect((await api.trpc('mutation', 'tools.delete', { id }, admin.cookie)).status).toBe(200);
    expect((await api.trpc('mutation', 'tools.delete', { id }, admin.cookie)).status).toBe(404);
    // Users may not see or change tools.
    expect((await api.trpc('query', 'tools.list', undefined, alice.cookie)).status).toBe(403);
    expect((await createTool({ name: 'sneaky' }, alice)).status).toBe(403);
  });

  it('derives the parameters from an OpenAPI document with one operation', async () => {
    const openapi = { openapi: '3.0.0', info: { title: 'w', version: '1' }, paths: { '/w': { post: { summary: 'Weather', requestBody: { content: { 'application/json': { schema: weatherSchema } } } } } } };
    const res = await createTool({ name: 'from-openapi', parameters: undefined, openapi: JSON.stringify(openapi), description: '' });
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({ parameters: weatherSchema, description: 'Weather' });
    await api.trpc('mutation', 'tools.delete', { id: res.data.id }, admin.cookie);
  });

  it('refuses bad schemas, names and endpoints with a 400 naming the fault', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ name: 'no spaces' }, /letters, digits/],
      [{ parameters: '{not json' }, /parameters is not valid JSON/],
      [{ parameters: JSON.stringify({ type: 'string' }) }, /must be "object"/],
      [{ parameters: JSON.stringify({ type: 'object', properties: { a: { type: 'text' } } }) }, /parameters\.properties\.a\.type: unknown type/],
      [{ parameters: JSON.stringify({ type: 'object', properties: {}, required: ['b'] }) }, /required: names b/],
      [{ endpoint: 'http://169.254.169.254/latest/meta-data' }, /refused by the outbound policy/],
      [{ endpoint: 'http://metadata.google.internal/x' }, /metadata host name/],
      [{ endpoint: 'http://127.0.0.2:9/x' }, /loopback address \(not in ENCLAVE_OUTBOUND_ALLOW\)/],
      [{ endpoint: 'ftp://example.com/x' }, /only http/],
      [{ secret: 'short' }, /at least 16 characters/],
    ];
    for (const [over, message] of cases) {
      const res = await createTool({ name: 'bad', ...over });
      expect([over, res.status, res.error?.message]).toEqual([over, 400, expect.stringMatching(message)]);
    }
    expect((await createTool({ name: 'dup' })).status).toBe(200);
    expect((await createTool({ name: 'dup' })).status).toBe(409);
  });
});

describe('in the chat', () => {
  let weatherId: string;
  beforeAll(async () => {
    weatherId = (await createTool()).data.id;
    await api.trpc('mutation', 'tools.grant', { toolId: weatherId, groupId: team }, admin.cookie);
  });

  it('offers granted tools, calls the plugin with a verified signature, and answers with its result', async () => {
    received.length = 0;
    const turn = await chat(alice);
    // The model was offered the tool, called it, and was asked again with the result as a tool message.
    expect(engine.requests).toHaveLength(2);
    expect(engine.requests[0]!.tools).toEqual([{ type: 'function', function: { name: 'weather', description: 'Weather by city', parameters: weatherSchema } }]);
    expect(toolMessage(engine.requests[1]!)).toEqual({ role: 'tool', tool_call_id: 'call_1', content: '{"forecast":"sunny in Oslo"}' });
    expect(turn.text).toBe('The tool said: {"forecast":"sunny in Oslo"}');
    // The plugin got one signed request that its verifier accepted.
    expect(received).toHaveLength(1);
    expect(received[0]!.verdict).toEqual({ ok: true });
    expect(JSON.parse(received[0]!.body)).toEqual({ tool: 'weather', arguments: { city: 'Oslo' }, conversationId: turn.conversationId, callId: 'call_1' });
    // The chat got the call as an event and on the reply.
    const tool = turn.events.find((e) => e.event === 'tool')!.data;
    expect(tool).toMatchObject({ tool: 'weather', status: 'ok', arguments: '{"city":"Oslo"}', result: '{"forecast":"sunny in Oslo"}' });
    const conv = (await api.trpc('query', 'conversations.get', { id: turn.conversationId }, alice.cookie)).data as { messages: { role: string; metadata: { toolCalls?: unknown[] } }[] };
    expect(conv.messages.find((m) => m.role === 'assistant')!.metadata.toolCalls).toEqual([expect.objectContaining({ tool: 'weather', status: 'ok', arguments: '{"city":"Oslo"}', result: '{"forecast":"sunny in Oslo"}' })]);
    // At rest the arguments and result are sealed.
    const rows = await t.db.select().from(messages).where(eq(messages.conversationId, turn.conversationId));
    expect(JSON.stringify(rows.map((r) => r.metadata))).not.toMatch(/sunny|Oslo/);
    // Audited: tool, caller, status, duration; never the content.
    const [audit] = await t.db.select().from(auditLog).where(eq(auditLog.action, 'tools.call'));
    expect(audit).toMatchObject({ actorUserId: alice.user.id, target: weatherId, outcome: 'success', detail: { tool: 'weather', status: 'ok', durationMs: expect.any(Number), httpStatus: 200 } });
    expect(JSON.stringify(audit!.detail)).not.toMatch(/sunny|Oslo/);
  });

  it('offers no tools to a user whose groups lack the grant', async () => {
    received.length = 0;
    const turn = await chat(bob);
    expect(engine.requests).toHaveLength(1);
    expect(engine.requests[0]!).not.toHaveProperty('tools');
    expect(turn.text).toBe('No tool was offered.');
    expect(received).toHaveLength(0);
  });

  it('offers no tools on a deployment not marked tool-capable, until an admin marks it', async () => {
    received.length = 0;
    const turn = await chat(alice, 'plain');
    expect(engine.requests[0]!).not.toHaveProperty('tools');
    expect(turn.text).toBe('No tool was offered.');
    const deployments = (await api.trpc('query', 'deployments.list', undefined, admin.cookie)).data as { id: string; name: string }[];
    const plain = deployments.find((d) => d.name === 'plain')!;
    expect((await api.trpc('mutation', 'deployments.setGateway', { id: plain.id, tools: true }, admin.cookie)).data).toMatchObject({ tools: true });
    expect((await chat(alice, 'plain')).text).toBe('The tool said: {"forecast":"sunny in Oslo"}');
    await api.trpc('mutation', 'deployments.setGateway', { id: plain.id, tools: false }, admin.cookie);
  });

  it('tells the model when the plugin is too slow, and cuts an oversized answer', async () => {
    await api.trpc('mutation', 'tools.update', { id: weatherId, endpoint: `${pluginUrl}/slow`, timeoutMs: 300 }, admin.cookie);
    const slow = await chat(alice);
    expect(toolMessage(engine.requests[1]!)!.content).toBe('Tool error: the tool did not answer within 300 ms');
    expect(slow.events.find((e) => e.event === 'tool')!.data).toMatchObject({ status: 'timeout' });

    await api.trpc('mutation', 'tools.update', { id: weatherId, endpoint: `${pluginUrl}/big`, timeoutMs: 5_000, maxResponseBytes: 256 }, admin.cookie);
    const big = await chat(alice);
    expect(toolMessage(engine.requests[1]!)!.content).toBe(`${'x'.repeat(256)}\n[cut at 256 bytes]`);
    expect(big.events.find((e) => e.event === 'tool')!.data).toMatchObject({ status: 'ok', truncated: true });
    await api.trpc('mutation', 'tools.update', { id: weatherId, endpoint: `${pluginUrl}/weather`, maxResponseBytes: 65_536 }, admin.cookie);
  });

  it("passes /v1 callers' own tools through untouched", async () => {
    const key = await createApiKey(t.db, { userId: alice.user.id, name: 'own tools' });
    const own = [{ type: 'function', function: { name: 'lookup', description: 'Mine', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }];
    engine.requests.length = 0;
    received.length = 0;
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tooly', messages: [{ role: 'user', content: 'hi' }], tools: own }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { message: { tool_calls: { function: { name: string } }[] } }[] };
    expect(body.choices[0]!.message.tool_calls[0]!.function.name).toBe('lookup');
    expect(engine.requests).toHaveLength(1);
    expect(engine.requests[0]!.tools).toEqual(own);
    expect(received).toHaveLength(0);
  });
});

describe('calls and signatures', () => {
  const tool = () => ({ id: '00000000-0000-4000-8000-000000000001', name: 'weather', description: '', parameters: weatherSchema, endpoint: `${pluginUrl}/weather`, secret: SECRET, timeoutMs: 2_000, maxResponseBytes: 4096 });

  it('refuses an internal endpoint at call time unless ENCLAVE_OUTBOUND_ALLOW allows it', async () => {
    received.length = 0;
    const strict = createOutboundPolicy({ allow: '', ownEndpoints: [] });
    const refused = await invokeTool(t.db, tool(), { arguments: '{"city":"Oslo"}', userId: alice.user.id }, { policy: strict });
    expect(refused).toMatchObject({ status: 'refused', result: expect.stringMatching(/refused by the outbound policy: 127\.0\.0\.1 is a loopback address/) });
    const metadata = await invokeTool(t.db, { ...tool(), endpoint: 'http://169.254.169.254/latest' }, { arguments: '{}', userId: alice.user.id }, { policy: strict });
    expect(metadata.status).toBe('refused');
    expect(received).toHaveLength(0);
    const allowed = await invokeTool(t.db, tool(), { arguments: '{"city":"Oslo"}', userId: alice.user.id }, { policy: createOutboundPolicy({ allow: '127.0.0.1', ownEndpoints: [] }) });
    expect(allowed).toMatchObject({ status: 'ok', result: '{"forecast":"sunny in Oslo"}' });
  });

  it('tells the model its arguments were not JSON without calling the plugin', async () => {
    received.length = 0;
    expect(await invokeTool(t.db, tool(), { arguments: '{city:', userId: alice.user.id })).toMatchObject({ status: 'bad_arguments' });
    expect(received).toHaveLength(0);
  });

  it('rejects a tampered body or signature, and a replayed (old) timestamp', async () => {
    received.length = 0;
    await invokeTool(t.db, tool(), { arguments: '{"city":"Oslo"}', userId: alice.user.id });
    const { body, headers } = received[0]!;
    const timestamp = headers[TIMESTAMP_HEADER] as string;
    const signature = headers[SIGNATURE_HEADER] as string;
    expect(verifyEnclaveSignature({ secret: SECRET, body, timestamp, signature })).toEqual({ ok: true });
    expect(verifyEnclaveSignature({ secret: SECRET, body: body.replace('Oslo', 'Bergen'), timestamp, signature })).toEqual({ ok: false, reason: 'bad signature' });
    expect(verifyEnclaveSignature({ secret: SECRET, body, timestamp, signature: signature.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) })).toEqual({ ok: false, reason: 'bad signature' });
    expect(verifyEnclaveSignature({ secret: 'another-secret-000000', body, timestamp, signature })).toEqual({ ok: false, reason: 'bad signature' });
    // The same request sent again after the window.
    expect(verifyEnclaveSignature({ secret: SECRET, body, timestamp, signature, now: Number(timestamp) + REPLAY_WINDOW_MS + 1 })).toEqual({ ok: false, reason: 'outside the replay window' });
    // A fresh signature over an old timestamp is no better.
    const old = String(Date.now() - REPLAY_WINDOW_MS - 1_000);
    expect(verifyEnclaveSignature({ secret: SECRET, body, timestamp: old, signature: signEnclaveBody(SECRET, old, body) })).toEqual({ ok: false, reason: 'outside the replay window' });
    expect(verifyEnclaveSignature({ secret: SECRET, body, timestamp: undefined, signature })).toEqual({ ok: false, reason: 'missing headers' });
  });
});
