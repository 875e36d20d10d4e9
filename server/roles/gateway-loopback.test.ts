import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { parseEnv } from '../core/env';
import { createGateway, type Gateway } from '../gateway/gateway';
import { createListener, loadTls, type TlsSettings } from '../http/tls';
import { makeServerCertificate, makeTestCa, pemDir } from '../http/testing/certificates';
import { createApiKey } from '../security/api-keys';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { makeDeployment, makeUser } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { startGatewayLoopback } from './gateway-loopback';

/**
 * `enclave start` with TLS on: the gateway is mounted on the HTTPS web listener (clients' /v1), and the
 * web role's own calls to it (chat, arena) go through the loopback listener web-server.ts starts for it.
 * Both paths end at the same real gateway, a real deployment and an engine double.
 */
const ca = makeTestCa('Combined test CA');
const pems = pemDir();
const pair = makeServerCertificate(ca);
const masterKey = randomBytes(32);
let t: TestDatabase;
let engine: OpenAIDouble;
let tls: TlsSettings;
let gateway: Gateway;
let loopback: Awaited<ReturnType<typeof startGatewayLoopback>>;
let web: ReturnType<typeof createListener>;
let webPort: number;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let model: string;

beforeAll(async () => {
  t = await createTestDatabase('tlscombined');
  engine = await startOpenAIDouble({ tokens: 4, token: (i) => `t${i} `, firstTokenMs: 1, interTokenMs: 1 });
  model = (await makeDeployment(t.db, {}, [engine.url])).deployment.name;
  const env = parseEnv({ ENCLAVE_DATA_DIR: pems.dir, ENCLAVE_TLS_CERT: pems.write('cert.pem', pair.certPem), ENCLAVE_TLS_KEY: pems.write('key.pem', pair.keyPem) });
  tls = loadTls(env)!;
  gateway = createGateway({ db: t.db, env, masterKey, routingRefreshMs: 200, authCacheMs: 200, logFlushMs: 60_000 });
  await gateway.refresh();
  // The web listener's share of the composition: /v1 to the mounted gateway, over TLS.
  web = createListener((req, res) => ((req.url ?? '').startsWith('/v1/') ? gateway.handle(req, res) : res.writeHead(404).end()), tls, { requireHostHeader: false });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  webPort = (web.address() as { port: number }).port;
  loopback = await startGatewayLoopback(gateway, env);
  api = await startApiTestServer({ db: t.db, masterKey, gatewayUrl: loopback.url });
});
afterAll(async () => {
  await api?.close();
  await loopback?.close();
  web?.closeAllConnections();
  await new Promise((r) => web?.close(r));
  await gateway?.close();
  tls?.close();
  await engine?.close();
  await t?.drop();
  pems.remove();
});

it("chat.send reaches the web role's own gateway through the loopback listener while its public port speaks TLS", async () => {
  expect(loopback.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  const { cookie } = await api.userSession('user');
  const conversation = (await api.trpc('mutation', 'conversations.create', {}, cookie)).data.id as string;
  const { status, events } = await api.stream('chat.send', { conversationId: conversation, model, parentId: null, content: 'hello there', maxTokens: 4 }, { cookie });
  expect(status).toBe(200);
  expect(events.filter((e) => e.event === 'delta').map((e) => e.data.text).join('')).toBe('t0 t1 t2 t3 ');
  expect(events.at(-1)!.event).toBe('done');
  // The engine was reached by the gateway (with the replica's secret), not by anything else.
  expect(engine.requests.at(-1)!.body).toMatchObject({ model, stream: true });
});

it('the loopback listener serves /v1 only, and only to a caller with credentials', async () => {
  const models = await fetch(`${loopback.url}/v1/models`);
  expect(models.status).toBe(401);
  const other = await fetch(`${loopback.url}/api/health`);
  expect(other.status).toBe(404);
  expect(((await other.json()) as { error: { code: string } }).error.code).toBe('unknown_url');
});

it('the same gateway answers clients over HTTPS on the public port', async () => {
  const user = await makeUser(t.db, { role: 'user' });
  const { key } = await createApiKey(t.db, { userId: user.id, name: 'tls', models: null });
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
  const answer = await new Promise<{ status: number; hsts?: string; text: string }>((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', servername: 'localhost', port: webPort, path: '/v1/chat/completions', method: 'POST', ca: ca.certPem, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, hsts: res.headers['strict-transport-security'] as string | undefined, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  expect(answer.status).toBe(200);
  expect(answer.hsts).toBe('max-age=31536000');
  expect(JSON.parse(answer.text).choices[0].message.content).toBe('t0 t1 t2 t3 ');
});
