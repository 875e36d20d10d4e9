import { eq } from 'drizzle-orm';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { reconcileOptions } from '../../../workers/deploy';
import { startApiTestServer } from '../../api/testing/api-test-server';
import { deploymentReplicas, deployments } from '../../db/schema';
import { startGatewayHarness, type GatewayHarness } from '../../gateway/testing/harness';
import { createDeployment } from '../../lifecycle/deployments';
import { reconcileDeployment } from '../../lifecycle/reconcile';
import { closeQueues } from '../../core/queues';
import { makeDeployment } from '../../testing/factories';
import { setLevel } from '../../security/classification';
import { testRedisPrefix } from '../../testing/database';
import { fromGateway, startOpenAIDouble, type OpenAIDouble } from '../../testing/openai-double';
import { checkUpstream } from './driver';
import { storeUpstreamKey } from './keys';

// The doubles listen on 127.0.0.1, which the outbound policy refuses unless an admin allows it: this file
// allows exactly that address, so 127.0.0.2 (loopback too, on the same interface) stays refused.
process.env.ENCLAVE_OUTBOUND_ALLOW = '127.0.0.1';
process.env.REDIS_PREFIX = testRedisPrefix('upstream-outbound');

const UPSTREAM_KEY = 'sk-upstream-outbound-0123456789';
let h: GatewayHarness;
let clientKey: string;
let upstream: OpenAIDouble;
const servers: http.Server[] = [];

/** A listener that counts connections and requests (and the Authorization headers it was sent). */
async function listener(host: string, handle: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_q, r) => void r.writeHead(404).end()) {
  const seen = { connections: 0, authorizations: [] as (string | undefined)[] };
  const server = http.createServer((req, res) => {
    seen.authorizations.push(req.headers.authorization);
    handle(req, res);
  });
  server.on('connection', () => seen.connections++);
  await new Promise<void>((r) => server.listen(0, host, r));
  servers.push(server);
  return { seen, port: (server.address() as AddressInfo).port };
}

beforeAll(async () => {
  h = await startGatewayHarness('upstream-outbound', { GATEWAY_REQUEST_TIMEOUT_MS: '8000' });
  const client = await h.keyFor();
  clientKey = client.key;
  // An upstream endpoint takes public data only (issue 13): this client's key is declared public.
  await setLevel(h.t.db, 'api_key', client.keyId, 0, 'admin');
  upstream = await startOpenAIDouble({ served: { servedName: 'vendor-large-2', modelPath: 'vendor/large-2' }, apiKey: UPSTREAM_KEY });
  servers.push(upstream.server);
});
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  await h?.close();
  await closeQueues();
});

const chat = (model: string) => h.post('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hello' }] }, clientKey);

describe('the base URL is normalised', () => {
  test.each([
    ['bare', ''],
    ['with /v1', '/v1'],
    ['with /v1/', '/v1/'],
  ])('%s: stored once-prefixed, probed at /v1/models and called at /v1/chat/completions', async (label, suffix) => {
    const name = `norm-${label.replace(/\W+/g, '-')}`;
    const { id } = await createDeployment(h.t.db, null, { name, spec: { engine: 'upstream', upstream: { url: `${upstream.url}${suffix}`, model: 'vendor-large-2' } }, upstreamKey: UPSTREAM_KEY }, { masterKey: h.masterKey });
    const [row] = await h.t.db.select({ spec: deployments.spec }).from(deployments).where(eq(deployments.id, id));
    expect((row!.spec as { upstream: { url: string } }).upstream.url).toBe(upstream.url);

    const opts = reconcileOptions(h.t.db, { masterKey: h.masterKey });
    await reconcileDeployment(h.t.db, id, opts);
    await reconcileDeployment(h.t.db, id, opts);
    const replicas = await h.t.db.select().from(deploymentReplicas).where(eq(deploymentReplicas.deploymentId, id));
    expect(replicas.map((r) => r.status)).toEqual(['ready']);

    await h.gateway.refresh();
    const res = await chat(name);
    expect(res.status).toBe(200);
    expect(upstream.requests.filter(fromGateway(h.masterKey)).at(-1)).toMatchObject({ path: '/v1/chat/completions', headers: { authorization: `Bearer ${UPSTREAM_KEY}` } });
  });
});

describe('URLs outside the outbound policy are refused when saved', () => {
  test.each([
    ['http://169.254.169.254/latest/meta-data/', /metadata/],
    ['http://[fd00:ec2::254]/', /metadata/],
    ['http://metadata.google.internal/computeMetadata/v1', /metadata/],
    ['http://127.0.0.2:5432', /loopback/],
    ['http://[::1]:8000', /loopback/],
    ['http://[::ffff:127.0.0.2]/', /loopback/],
    ['http://2130706434/', /loopback/],
    ['http://0x7f.0.0.2/', /loopback/],
    ['http://0177.0.0.2/', /loopback/],
    ['http://0.0.0.0:8000', /unspecified/],
    ['http://169.254.1.1/', /link-local/],
    ['http://[fe80::1]/', /link-local/],
    ['http://224.0.0.1/', /multicast/],
    ['file:///etc/passwd', /http/],
    ['gopher://127.0.0.1:6379/_INFO', /http/],
    ['data:text/plain,hello', /http/],
    ['https://user:secret@api.example.com/v1', /user name or password/],
    ['https://api.example.com/v1?x=1', /query/],
  ])('%s', async (url, rule) => {
    const err = await createDeployment(h.t.db, null, { name: `bad-${Math.random().toString(36).slice(2, 8)}`, spec: { engine: 'upstream', upstream: { url } } }, { masterKey: h.masterKey }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(rule);
    expect(err?.message).toContain('upstream');
  });

  test('through the API: a 400 that names the field and the rule; a public host name is accepted', async () => {
    const api = await startApiTestServer({ db: h.t.db, masterKey: h.masterKey });
    try {
      const { cookie } = await api.userSession('engineer');
      const bad = await api.trpc('mutation', 'deployments.create', { name: 'ext-meta', spec: { engine: 'upstream', upstream: { url: 'http://169.254.169.254/latest' } } }, cookie);
      expect(bad.status).toBe(400);
      expect(bad.error?.message).toMatch(/spec\.upstream\.url: refused by the outbound policy: 169\.254\.169\.254 is a cloud metadata address/);
      const good = await api.trpc('mutation', 'deployments.create', { name: 'ext-public', spec: { engine: 'upstream', upstream: { url: 'https://api.example.com/v1/' } } }, cookie);
      expect(good.status).toBe(200);
    } finally {
      await api.close();
    }
  });
});

describe('at call time', () => {
  test('a stored URL the policy refuses gets no connection from the probe or the gateway, and never the key', async () => {
    const target = await listener('127.0.0.2');
    const url = `http://127.0.0.2:${target.port}`;
    const probe = await checkUpstream(url, 'x', { key: UPSTREAM_KEY });
    expect(probe).toEqual({ readiness: 'failed', reason: expect.stringMatching(/^refused by the outbound policy: 127\.0\.0\.2 is a loopback address/) });

    // A row saved before the policy existed: the gateway refuses it at connect time.
    const { deployment } = await makeDeployment(h.t.db, { engine: 'upstream', spec: { engine: 'upstream', upstream: { url } } }, [url]);
    await storeUpstreamKey(h.t.db, h.masterKey, deployment.id, UPSTREAM_KEY);
    await h.gateway.refresh();
    const res = await chat(deployment.name);
    expect(res.status).toBe(503);
    expect(await res.text()).not.toContain('127.0.0.2');
    expect(target.seen.connections).toBe(0);
  });

  test('a redirect is not followed: the key never reaches another origin', async () => {
    const other = await listener('127.0.0.1', (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[{"id":"x"}]}'));
    const redirecting = await listener('127.0.0.1', (_req, res) => void res.writeHead(302, { location: `http://127.0.0.1:${other.port}/v1/models` }).end());
    const probe = await checkUpstream(`http://127.0.0.1:${redirecting.port}`, 'x', { key: UPSTREAM_KEY });
    expect(probe).toMatchObject({ readiness: 'failed', reason: expect.stringMatching(/redirect/) });
    expect(redirecting.seen.authorizations).toEqual([`Bearer ${UPSTREAM_KEY}`]);
    expect(other.seen.connections).toBe(0);
  });
});

describe('loops', () => {
  test('an upstream pointing back at the gateway (allow-listed) is stopped after one hop with 508', async () => {
    const own = await h.keyFor('admin');
    let connections = 0;
    const count = () => connections++;
    h.gateway.server.on('connection', count);
    try {
      const { deployment } = await makeDeployment(h.t.db, { engine: 'upstream', spec: { engine: 'upstream', upstream: { url: h.gateway.url } } }, [h.gateway.url]);
      await storeUpstreamKey(h.t.db, h.masterKey, deployment.id, own.key);
      await h.gateway.refresh();
      const res = await chat(deployment.name);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status).toBe(508);
      expect(body.error.code).toBe('loop_detected');
      // The client's connection and the one looped request: nothing recursed.
      expect(connections).toBeLessThanOrEqual(3);
    } finally {
      h.gateway.server.off('connection', count);
    }
  });
});
