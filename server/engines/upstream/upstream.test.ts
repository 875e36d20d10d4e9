import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deployments } from '../../db/schema';
import { readEvents, startGatewayHarness, type GatewayHarness } from '../../gateway/testing/harness';
import { freePort } from '../../core/net/free-port';
import { makeDeployment } from '../../testing/factories';
import { setLevel } from '../../security/classification';
import { fromGateway, startOpenAIDouble, type OpenAIDouble, type RecordedRequest } from '../../testing/openai-double';
import { replicaAuthorization } from '../replica-secret';
import { checkUpstream, upstreamReplicaUrl } from './driver';
import { loadUpstreamKey, storeUpstreamKey } from './keys';

// The doubles listen on loopback, which the outbound policy refuses unless the admin allows it.
process.env.ENCLAVE_OUTBOUND_ALLOW = '127.0.0.1';

// The external API is played by the OpenAI TEST DOUBLE started with an API key (as `vllm serve --api-key`).
const UPSTREAM_KEY = 'sk-upstream-0123456789abcdef';
let h: GatewayHarness;
let clientKey: string;
let upstream: OpenAIDouble;
/** What this file's gateway sent the upstream, newest last. */
const sent = (): RecordedRequest[] => upstream.requests.filter(fromGateway(h.masterKey));

beforeAll(async () => {
  h = await startGatewayHarness('upstream');
  const client = await h.keyFor();
  clientKey = client.key;
  // An upstream endpoint takes public data only (issue 13): this client's key is declared public.
  await setLevel(h.t.db, 'api_key', client.keyId, 0, 'admin');
  upstream = await startOpenAIDouble({ served: { servedName: 'vendor-large-2', modelPath: 'vendor/large-2' }, apiKey: UPSTREAM_KEY });
});
afterAll(async () => {
  await h?.close();
  await upstream?.close();
});

async function upstreamDeployment(model = 'vendor-large-2') {
  const spec = { engine: 'upstream', upstream: { url: `${upstream.url}/v1`, model } };
  return makeDeployment(h.t.db, { engine: 'upstream', spec }, [upstreamReplicaUrl(spec)]);
}

test('the key is stored sealed in the spec, read back, and refused when it could split a header', async () => {
  const { deployment } = await upstreamDeployment();
  await storeUpstreamKey(h.t.db, h.masterKey, deployment.id, UPSTREAM_KEY);
  const [row] = await h.t.db.select({ spec: deployments.spec }).from(deployments).where(eq(deployments.id, deployment.id));
  expect(JSON.stringify(row!.spec)).not.toContain(UPSTREAM_KEY);
  expect(row!.spec).toMatchObject({ engine: 'upstream', upstreamKeyEnc: expect.any(String), upstreamKeyDataKeyId: expect.any(Number) });
  expect(await loadUpstreamKey(h.t.db, h.masterKey, deployment.id)).toBe(UPSTREAM_KEY);

  for (const bad of ['', 'sk with space', 'sk-x\r\nx-evil: 1'])
    await expect(storeUpstreamKey(h.t.db, h.masterKey, deployment.id, bad)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  const local = await makeDeployment(h.t.db);
  await expect(storeUpstreamKey(h.t.db, h.masterKey, local.deployment.id, UPSTREAM_KEY)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  expect(await loadUpstreamKey(h.t.db, h.masterKey, local.deployment.id)).toBeNull();
});

test('readiness: /v1/models with the key lists the model; a wrong key, a missing model or no answer are explained', async () => {
  expect(upstreamReplicaUrl({ upstream: { url: 'https://api.example.com/v1/' } })).toBe('https://api.example.com');
  expect(await checkUpstream(upstream.url, 'x', { key: UPSTREAM_KEY, model: 'vendor-large-2' })).toEqual({ readiness: 'ready' });
  expect(await checkUpstream(upstream.url, 'x', { key: 'sk-wrong', model: 'vendor-large-2' })).toEqual({
    readiness: 'failed',
    reason: 'the upstream refused the API key (401)',
  });
  expect(await checkUpstream(upstream.url, 'x', {})).toMatchObject({ readiness: 'failed', reason: 'the upstream needs an API key (401)' });
  expect(await checkUpstream(upstream.url, 'vendor-small', { key: UPSTREAM_KEY })).toEqual({
    readiness: 'failed',
    reason: "the upstream does not serve 'vendor-small'",
  });
  expect((await checkUpstream(`http://127.0.0.1:${await freePort()}`, 'x', { key: UPSTREAM_KEY })).readiness).toBe('loading');
});

test('through the gateway: the upstream gets its own key and model name, the client never sees either', async () => {
  const { deployment } = await upstreamDeployment();
  await storeUpstreamKey(h.t.db, h.masterKey, deployment.id, UPSTREAM_KEY);
  await h.gateway.refresh();

  const res = await h.post('/v1/chat/completions', { model: deployment.name, messages: [{ role: 'user', content: 'hello there' }] }, clientKey);
  expect(res.status).toBe(200);
  expect(((await res.json()) as { choices: unknown[] }).choices).toHaveLength(1);
  expect(sent().at(-1)).toMatchObject({ path: '/v1/chat/completions', headers: { authorization: `Bearer ${UPSTREAM_KEY}` }, body: { model: 'vendor-large-2' } });

  const stream = await h.post('/v1/chat/completions', { model: deployment.name, messages: [{ role: 'user', content: 'hi' }], stream: true }, clientKey);
  expect(stream.status).toBe(200);
  const events = await readEvents(stream);
  expect(events.at(-1)?.data).toBe('[DONE]');
  expect(events.some((e) => e.data.includes('"usage"'))).toBe(false); // asked for by the gateway, stripped for the client
});

test('a key the upstream refuses: 502 upstream_auth_failed, without the upstream body or the key', async () => {
  const { deployment } = await upstreamDeployment();
  await storeUpstreamKey(h.t.db, h.masterKey, deployment.id, 'sk-revoked-key');
  await h.gateway.refresh();
  const res = await h.post('/v1/chat/completions', { model: deployment.name, messages: [{ role: 'user', content: 'hi' }] }, clientKey);
  expect(res.status).toBe(502);
  const text = await res.text();
  expect(JSON.parse(text).error.code).toBe('upstream_auth_failed');
  expect(text).not.toContain('sk-revoked-key');
  expect(sent().at(-1)?.headers.authorization).toBe('Bearer sk-revoked-key');

  // No key at all is the same failure, not a crash.
  const bare = await upstreamDeployment();
  await h.gateway.refresh();
  const noKey = await h.post('/v1/chat/completions', { model: bare.deployment.name, messages: [{ role: 'user', content: 'hi' }] }, clientKey);
  expect(noKey.status).toBe(502);
  expect(sent().at(-1)?.headers.authorization).toBeUndefined();
});

test("engines other than upstream get their replica's own secret (never an upstream key) and the client model name", async () => {
  const engine = await startOpenAIDouble({ served: { servedName: 'placeholder', modelPath: '/m' } });
  try {
    const { deployment, replicas } = await makeDeployment(h.t.db, { engine: 'vllm' }, [engine.url]);
    await h.gateway.refresh();
    const res = await h.post('/v1/chat/completions', { model: deployment.name, messages: [{ role: 'user', content: 'hi' }] }, clientKey);
    expect(res.status).toBe(404); // the double serves 'placeholder': the body kept the deployment's name
    const forwarded = engine.requests.at(-1);
    expect(forwarded?.body?.model).toBe(deployment.name);
    expect(forwarded?.headers.authorization).toBe(replicaAuthorization(h.masterKey, replicas[0]!.id));
  } finally {
    await engine.close();
  }
});
