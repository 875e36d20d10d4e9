import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { parseEnv } from '../core/env';
import { createApiHandler } from '../api/http';
import { startGatewayHarness, type GatewayHarness } from '../gateway/testing/harness';
import { createSession } from '../security/sessions';
import { makeDeployment } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { hardenServer } from './hardening';
import { logRequest, routePattern } from './access-log';

/**
 * The access log as a log shipper reads it: the real gateway (an OpenAI double as its engine) and the
 * real API handler behind the web role's access log, driven with a secret and a piece of content planted
 * in every place a request carries them (bearer key, body, query string, path, cookie).
 */
const SECRET = `planted-secret-${randomBytes(6).toString('hex')}`;
const CONTENT = `planted content 7 ${randomBytes(6).toString('hex')}`;
const lines: string[] = [];
let h: GatewayHarness;
let engine: OpenAIDouble;
let web: http.Server;
let webUrl: string;
let restore: () => void;

beforeAll(async () => {
  const write = process.stderr.write.bind(process.stderr);
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  });
  restore = () => spy.mockRestore();
  // 127.0.0.1 is a trusted proxy here: its X-Request-Id is kept, as one from the proxy in front would be.
  h = await startGatewayHarness('accesslog', { ENCLAVE_TRUSTED_PROXIES: '127.0.0.1/32' });
  engine = await startOpenAIDouble();
  const env = parseEnv({ ENCLAVE_SECURE_COOKIES: 'false' });
  const api = createApiHandler({ db: h.t.db, env, masterKey: h.masterKey, gatewayUrl: h.gateway.url });
  // What web-server.ts does for everything but /v1.
  web = http.createServer((req, res) => {
    hardening.beforeRequest(req, res);
    logRequest(req, res, 'web', undefined);
    void api(req, res).then((handled) => !handled && res.writeHead(404).end());
  });
  const hardening = hardenServer(web, env);
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
});

afterAll(async () => {
  restore?.();
  await new Promise((r) => web?.close(r));
  await engine?.close();
  await h?.close();
});

const httpLines = () =>
  lines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === 'http');

test('one JSON line per request on the gateway and the web, with id, actor, route, status and latency, and nothing planted', async () => {
  const { deployment } = await makeDeployment(h.t.db, {}, [engine.url]);
  await h.gateway.refresh();
  const { key, keyId, userId } = await h.keyFor();
  const ok = await h.post(`/v1/chat/completions?token=${SECRET}`, { model: deployment.name, messages: [{ role: 'user', content: CONTENT }] }, key, { 'x-request-id': 'edge-req-42' });
  expect(ok.status).toBe(200);
  await ok.text();
  expect(ok.headers.get('x-request-id')).toBe('edge-req-42');
  const denied = await h.post('/v1/chat/completions', { model: deployment.name, messages: [{ role: 'user', content: CONTENT }] }, `sk-${SECRET}`);
  expect(denied.status).toBe(401);
  const unknown = await fetch(`${h.gateway.url}/v1/${SECRET}/x`, { headers: { authorization: `Bearer ${key}` } });
  expect(unknown.status).toBe(404);

  const { token } = await createSession(h.t.db, userId, { hours: 1 });
  const cookie = `enclave_session=${token}`;
  const me = await fetch(`${webUrl}/api/trpc/auth.me?input=${encodeURIComponent(JSON.stringify({ q: SECRET }))}`, { headers: { cookie, 'x-request-id': 'from-a-client' } });
  expect(me.status).toBeLessThan(500);
  // Not from a trusted proxy: its X-Request-Id is replaced by one of ours.
  expect(me.headers.get('x-request-id')).not.toBe('from-a-client');
  expect(me.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  await fetch(`${webUrl}/api/conversations/${SECRET}/export?format=${CONTENT}`, { headers: { cookie } });

  await new Promise((r) => setTimeout(r, 50));
  for (const line of lines) {
    expect(line).not.toContain(SECRET);
    expect(line).not.toContain(CONTENT);
    expect(line).not.toContain(token);
    expect(line).not.toContain(key);
  }
  const logged = httpLines();
  const gw = logged.filter((l) => l.role === 'gateway');
  expect(gw).toHaveLength(3);
  expect(gw[0]).toMatchObject({ level: 'info', requestId: 'edge-req-42', method: 'POST', route: '/v1/chat/completions', status: 200, actor: `key:${keyId}` });
  expect(gw[1]).toMatchObject({ route: '/v1/chat/completions', status: 401 });
  expect(gw[1]!.actor).toBeUndefined();
  expect(gw[2]).toMatchObject({ route: '/v1/:id/x', status: 404 });
  const webLines = logged.filter((l) => l.role === 'web');
  expect(webLines).toHaveLength(2);
  expect(webLines[0]).toMatchObject({ route: '/api/trpc/auth.me', method: 'GET', actor: `user:${userId}`, requestId: me.headers.get('x-request-id') });
  expect(webLines[1]).toMatchObject({ route: '/api/conversations/:id/export' });
  for (const l of [...gw, ...webLines]) {
    expect(typeof l.requestId).toBe('string');
    expect(typeof l.ms).toBe('number');
    expect(typeof l.status).toBe('number');
    expect(typeof l.t).toBe('string');
  }
}, 60_000);

test('a route is its pattern: ids, numbers, tokens and query strings never pass', () => {
  expect(routePattern('/api/datasets/6f1c2d3e-aaaa-bbbb-cccc-111122223333/download?x=1')).toBe('/api/datasets/:id/download');
  expect(routePattern('/chat/abc123')).toBe('/chat/:id');
  expect(routePattern('/_next/static/chunks/main-9f8e.js')).toBe('/_next/static/chunks/:id');
  expect(routePattern('/api/trpc/users.list,audit.list?batch=1')).toBe('/api/trpc/users.list,audit.list');
  expect(routePattern('/a/b/c/d/e/f/g/h/i/j')).toBe('/a/b/c/d/e/f/g/h/…');
  expect(routePattern(undefined)).toBe('/');
});
