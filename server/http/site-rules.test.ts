import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { desc } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApiHandler } from '../api/http';
import { auditLog } from '../db/schema';
import { parseEnv, type Env } from '../core/env';
import { closeRedis } from '../core/redis';
import { createUser } from '../security/users';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { hardenServer } from './hardening';
import { applySiteRules } from './site-rules';

// The web listener's rules for every answer, on a real server with the real /api handler (Next.js
// stands aside: pages answer "page" here, with the nonce Next.js would read): the security headers, the
// Host check against DNS rebinding, the Origin check (scheme included), trusted proxies, no-store.
process.env.REDIS_PREFIX = testRedisPrefix('siterules');
let t: TestDatabase;
const servers: http.Server[] = [];

async function startSite(vars: Record<string, string> = {}) {
  const env: Env = parseEnv({ ENCLAVE_SECURE_COOKIES: 'false', ...vars });
  const api = createApiHandler({ db: t.db, env, masterKey: randomBytes(32), gatewayUrl: 'http://127.0.0.1:9' });
  const server = http.createServer({ requireHostHeader: false }, (req, res) => {
    guard.beforeRequest(req, res);
    const pathname = (req.url ?? '/').split('?')[0]!;
    const page = !pathname.startsWith('/api/');
    if (!applySiteRules(req, res, env, pathname, page ? 'page' : 'other')) return;
    if (page) return void res.end(`page; next reads ${req.headers['content-security-policy']}`);
    void api(req, res).then((handled) => handled || res.writeHead(404).end());
  });
  const guard = hardenServer(server, env);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  const port = (server.address() as AddressInfo).port;
  return { port, base: `http://127.0.0.1:${port}` };
}

beforeAll(async () => {
  t = await createTestDatabase('siterules');
  await createUser(t.db, { email: 'site@example.test', password: 'site-password', role: 'user' });
});
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  await closeRedis();
  await t?.drop();
});

/** A raw request, so Host and Origin are whatever the test says (fetch would set Host itself). */
function send(port: number, lines: string[], body = ''): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    let out = '';
    const socket = net.connect(port, '127.0.0.1', () => {
      const head = [...lines, ...(body ? [`Content-Length: ${Buffer.byteLength(body)}`] : []), 'Connection: close'].join('\r\n');
      socket.write(`${head}\r\n\r\n${body}`);
    });
    socket.on('data', (d) => (out += d));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', ...rest] = out.split('\r\n\r\n');
      const headers = Object.fromEntries(
        head
          .split('\r\n')
          .slice(1)
          .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
      );
      resolve({ status: Number(head.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}

const signInBody = JSON.stringify({ email: 'site@example.test', password: 'site-password' });
const signIn = (port: number, host: string, extra: string[] = []) =>
  send(port, ['POST /api/trpc/auth.signIn HTTP/1.1', `Host: ${host}`, 'Content-Type: application/json', ...extra], signInBody);

test('a Host that does not name this site is refused (DNS rebinding), before anything is done', async () => {
  const { port } = await startSite();
  // The rebinding attack: the attacker's name, resolving to this server, its page as the Origin.
  const rebound = await signIn(port, 'evil.example', ['Origin: http://evil.example']);
  expect(rebound.status).toBe(421);
  expect(JSON.parse(rebound.body).error.message).toMatch(/does not answer to the host 'evil.example': add its URL to ENCLAVE_PUBLIC_URL/);
  expect((await send(port, ['GET /chat HTTP/1.1', 'Host: evil.example'])).status).toBe(421);
  expect((await send(port, ['GET / HTTP/1.1'])).status).toBe(421); // no Host at all: refused, and said why in JSON
  // Names nobody can rebind: IP literals and localhost; and health answers probes whatever the Host.
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, '[::1]:3000', '10.1.2.3'])
    expect([host, (await send(port, ['GET / HTTP/1.1', `Host: ${host}`])).status]).toEqual([host, 200]);
  expect((await signIn(port, `localhost:${port}`, [`Origin: http://localhost:${port}`])).status).toBe(200);

  const configured = await startSite({ ENCLAVE_PUBLIC_URL: 'https://enclave.bank.test' });
  expect((await send(configured.port, ['GET / HTTP/1.1', 'Host: enclave.bank.test'])).status).toBe(200);
  expect((await send(configured.port, ['GET / HTTP/1.1', 'Host: other.bank.test'])).status).toBe(421);
});

test("the Origin must be exactly this site's, scheme included", async () => {
  const { port } = await startSite();
  const host = `127.0.0.1:${port}`;
  const cases: [string, number][] = [
    [`http://${host}`, 200],
    [`https://${host}`, 403], // an https page must not drive an http install
    [`http://127.0.0.1:${port + 1}`, 403],
    ['null', 403],
  ];
  for (const [origin, status] of cases) expect([origin, (await signIn(port, host, [`Origin: ${origin}`])).status]).toEqual([origin, status]);
  // Behind a TLS-terminating proxy the public URL says the scheme the browser uses.
  const behind = await startSite({ ENCLAVE_PUBLIC_URL: 'https://enclave.bank.test' });
  expect((await signIn(behind.port, 'enclave.bank.test', ['Origin: https://enclave.bank.test'])).status).toBe(200);
  expect((await signIn(behind.port, 'enclave.bank.test', ['Origin: http://enclave.bank.test'])).status).toBe(403);
});

test('pages get a fresh script nonce (and Next.js reads it); nothing else runs scripts; /api answers are never cached', async () => {
  const { port } = await startSite();
  const host = `Host: 127.0.0.1:${port}`;
  const pages = await Promise.all([send(port, ['GET / HTTP/1.1', host]), send(port, ['GET /admin HTTP/1.1', host])]);
  const nonces = pages.map((p) => /script-src 'self' 'nonce-([A-Za-z0-9+/=]+)' 'strict-dynamic'/.exec(p.headers['content-security-policy']!)?.[1]);
  expect(nonces[0]).toBeTruthy();
  expect(nonces[0]).not.toBe(nonces[1]);
  expect(pages[0]!.headers['content-security-policy']).not.toMatch(/script-src[^;]*unsafe-inline/);
  expect(pages[0]!.body).toContain(`'nonce-${nonces[0]}'`);
  for (const p of pages) {
    expect(p.headers['permissions-policy']).toMatch(/camera=\(\), microphone=\(self\), geolocation=\(\)/); // the microphone for voice input, this origin only
    expect(p.headers['x-frame-options']).toBe('DENY');
    expect(p.headers['strict-transport-security']).toBeUndefined(); // plain http: HSTS would mean nothing
  }
  const api = await send(port, ['GET /api/trpc/auth.me HTTP/1.1', host]);
  expect(api.headers['cache-control']).toBe('no-store');
  expect(api.headers['content-security-policy']).toMatch(/script-src 'none'/);
});

test("a trusted proxy's forwarded address and scheme are believed; anyone else's are ignored", async () => {
  const trusting = await startSite({ ENCLAVE_TRUSTED_PROXIES: '127.0.0.0/8' });
  const viaProxy = await signIn(trusting.port, 'enclave.local', ['X-Forwarded-For: 203.0.113.9, 127.0.0.5', 'X-Forwarded-Proto: https', 'Origin: https://enclave.local']);
  // The machine's name is unknown here: use an IP literal as the Host instead.
  expect(viaProxy.status).toBe(421);
  const ok = await signIn(trusting.port, '192.0.2.10', ['X-Forwarded-For: 203.0.113.9, 127.0.0.5', 'X-Forwarded-Proto: https', 'Origin: https://192.0.2.10']);
  expect(ok.status).toBe(200);
  expect(ok.headers['strict-transport-security']).toBe('max-age=31536000');
  const [row] = await t.db.select().from(auditLog).orderBy(desc(auditLog.id)).limit(1);
  expect(row).toMatchObject({ action: 'auth.signIn', outcome: 'success', clientAddress: '203.0.113.9' });

  const untrusting = await startSite();
  const forged = await signIn(untrusting.port, '192.0.2.10', ['X-Forwarded-For: 203.0.113.77', 'X-Forwarded-Proto: https', 'Origin: http://192.0.2.10']);
  expect(forged.status).toBe(200);
  expect(forged.headers['strict-transport-security']).toBeUndefined();
  const [latest] = await t.db.select().from(auditLog).orderBy(desc(auditLog.id)).limit(1);
  expect(latest!.clientAddress).toBe('127.0.0.1');
});
