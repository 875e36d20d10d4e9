import { and, eq, like } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { auditLog, dataClassifications, deploymentDataPolicies } from '../db/schema';
import { upstreamReplicaUrl } from '../engines/upstream/driver';
import { setLevel } from '../security/classification';
import { internalToken } from '../security/master-key';
import { makeDeployment, makeUser } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';
import { startGatewayHarness, type GatewayHarness } from './testing/harness';

// The engine double listens on loopback, which the outbound policy refuses to upstreams unless allowed.
process.env.ENCLAVE_OUTBOUND_ALLOW = '127.0.0.1';

// Real formats: a resident ID with a valid check digit, a mainland mobile, an address on the LAN.
const ID = '11010519491231002X';
const PHONE = '13800138000';
const PROMPT = `My ID is ${ID}, call me on ${PHONE}; the server is 10.0.0.7.`;

let h: GatewayHarness;
let engine: OpenAIDouble;
const chat = (model: string, content: unknown) => ({ model, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content }], max_tokens: 4 });

beforeAll(async () => {
  h = await startGatewayHarness('gwpii');
  // The engine double: an OpenAI-compatible server that records exactly what it received.
  engine = await startOpenAIDouble();
});
afterAll(async () => {
  await h?.close();
  await engine?.close();
});

async function upstreamDeployment() {
  const spec = { engine: 'upstream', upstream: { url: `${engine.url}/v1` } };
  const made = await makeDeployment(h.t.db, { engine: 'upstream', spec }, [upstreamReplicaUrl(spec)]);
  await h.gateway.refresh();
  return made.deployment;
}

async function policy(deploymentId: string, maxLevel: number, mode: 'block' | 'mask' | 'allow') {
  await h.t.db.insert(deploymentDataPolicies).values({ deploymentId, maxLevel, mode });
  await h.gateway.refresh();
}

async function auditRows(action: string) {
  return h.t.db.select().from(auditLog).where(like(auditLog.action, action));
}

test('an upstream deployment (public by default) refuses a request holding an ID number, saying why; nothing reaches it; audited without values', async () => {
  const dep = await upstreamDeployment();
  const { key, keyId } = await h.keyFor();
  await setLevel(h.t.db, 'api_key', keyId, 0, 'user'); // the key itself is declared public
  engine.clear();

  const res = await h.post('/v1/chat/completions', chat(dep.name, PROMPT), key);
  expect(res.status).toBe(403);
  const { error } = (await res.json()) as { error: { code: string; type: string; message: string } };
  expect(error).toMatchObject({ type: 'permission_error', code: 'classification_exceeded' });
  expect(error.message).toMatch(/cn_id ×1/);
  expect(error.message).toMatch(/restricted/);
  expect(error.message).toMatch(/at most|highest level/);
  expect(error.message).toContain(`(public)`);
  expect(error.message).not.toContain(ID);
  expect(engine.requests.length).toBe(0);

  const [row] = (await auditRows('data_protection.refused')).filter((r) => r.target === dep.name);
  expect(row).toMatchObject({ outcome: 'denied', actorUserId: expect.any(String) });
  expect(row!.detail).toMatchObject({ level: 'restricted', maxLevel: 'public', because: 'content', findings: { cn_id: 1, phone: 1 }, apiKeyId: keyId });
  expect(JSON.stringify(row!.detail)).not.toContain(ID);
  expect(JSON.stringify(row!.detail)).not.toContain(PHONE);

  // A clean prompt from the public key goes through.
  const ok = await h.post('/v1/chat/completions', chat(dep.name, 'What is the capital of France?'), key);
  expect(ok.status, await ok.clone().text()).toBe(200);
  expect(engine.requests.length).toBe(1);

  // The detector raised the key's recorded level and counted the findings (never the values).
  await until('the key level to be raised', async () => {
    const [c] = await h.t.db.select().from(dataClassifications).where(and(eq(dataClassifications.subjectKind, 'api_key'), eq(dataClassifications.subjectId, keyId)));
    return c?.level === 3 && c.findings.cn_id === 1 && c.declaredLevel === 0;
  });
});

test('a key nobody classified is internal: an upstream refuses it whatever it sends', async () => {
  const dep = await upstreamDeployment();
  const { key } = await h.keyFor();
  engine.clear();
  const res = await h.post('/v1/chat/completions', chat(dep.name, 'hello'), key);
  expect(res.status).toBe(403);
  const { error } = (await res.json()) as { error: { code: string; message: string } };
  expect(error.code).toBe('classification_exceeded');
  expect(error.message).toMatch(/classified internal/);
  expect(engine.requests.length).toBe(0);
});

test('a masking deployment receives [ID_NUMBER] and [PHONE] instead of the values; what its level allows stays; audited', async () => {
  const { deployment: dep } = await makeDeployment(h.t.db, {}, [engine.url]);
  await policy(dep.id, 1, 'mask'); // internal: an IP address may stay, an ID and a phone may not
  const { key } = await h.keyFor();
  engine.clear();

  const res = await h.post('/v1/chat/completions', chat(dep.name, [{ type: 'text', text: PROMPT }]), key);
  expect(res.status).toBe(200);
  await res.text();
  expect(engine.requests).toHaveLength(1);
  const sent = JSON.stringify(engine.requests[0]!.body);
  expect(sent).not.toContain(ID);
  expect(sent).not.toContain(PHONE);
  expect(sent).toContain('My ID is [ID_NUMBER], call me on [PHONE]; the server is 10.0.0.7.');
  expect(engine.requests[0]!.body).toMatchObject({ messages: [{ role: 'system', content: 'be brief' }, { role: 'user' }], max_tokens: 4 });

  const [row] = (await auditRows('data_protection.masked')).filter((r) => r.target === dep.name);
  expect(row).toMatchObject({ outcome: 'success' });
  expect(row!.detail).toMatchObject({ findings: { cn_id: 1, phone: 1 }, level: 'restricted', maxLevel: 'internal' });
  expect(JSON.stringify(row!.detail)).not.toContain(ID);

  // Tool-call arguments an assistant turn carries are prompt text too.
  engine.clear();
  const tools = await h.post(
    '/v1/chat/completions',
    {
      model: dep.name,
      max_tokens: 4,
      messages: [
        { role: 'user', content: 'look me up' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: `{"id":"${ID}"}` } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'found' },
      ],
    },
    key,
  );
  expect(tools.status).toBe(200);
  await tools.text();
  expect(JSON.stringify(engine.requests[0]!.body)).not.toContain(ID);
  expect(JSON.stringify(engine.requests[0]!.body)).toContain('[ID_NUMBER]');

  // Completions: each prompt string is masked.
  engine.clear();
  const comp = await h.post('/v1/completions', { model: dep.name, prompt: ['card 4111 1111 1111 1111', 'plain'], max_tokens: 2 }, key);
  expect(comp.status).toBe(200);
  await comp.text();
  expect(engine.requests[0]!.body).toMatchObject({ prompt: ['card [BANK_CARD]', 'plain'] });
});

test('a blocking internal deployment refuses an ID number but takes an IP address; allow sends everything as it is', async () => {
  const { deployment: blocking } = await makeDeployment(h.t.db, {}, [engine.url]);
  await policy(blocking.id, 1, 'block');
  const { deployment: open } = await makeDeployment(h.t.db, {}, [engine.url]);
  await policy(open.id, 0, 'allow');
  const { key } = await h.keyFor();
  engine.clear();

  expect((await h.post('/v1/chat/completions', chat(blocking.name, PROMPT), key)).status).toBe(403);
  const ok = await h.post('/v1/chat/completions', chat(blocking.name, 'ping 10.0.0.7'), key);
  expect(ok.status).toBe(200);
  await ok.text();
  const allowed = await h.post('/v1/chat/completions', chat(open.name, PROMPT), key);
  expect(allowed.status).toBe(200);
  await allowed.text();
  expect(JSON.stringify(engine.requests.at(-1)!.body)).toContain(ID);
});

test("the chat's declared level travels on the trusted path only: restricted is refused by a public deployment, masking cannot lower it", async () => {
  const { deployment: dep } = await makeDeployment(h.t.db, {}, [engine.url]);
  await policy(dep.id, 0, 'mask');
  const user = await makeUser(h.t.db);
  const asChat = (level: string) => ({ authorization: `Bearer ${internalToken(h.masterKey)}`, 'x-enclave-user-id': user.id, 'x-enclave-classification': level });
  engine.clear();

  const refused = await fetch(`${h.gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...asChat('3') }, body: JSON.stringify(chat(dep.name, 'hello')) });
  expect(refused.status).toBe(403);
  expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/classified restricted/);

  const masked = await fetch(`${h.gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...asChat('0') }, body: JSON.stringify(chat(dep.name, PROMPT)) });
  expect(masked.status).toBe(200);
  await masked.text();
  expect(JSON.stringify(engine.requests[0]!.body)).toContain('[ID_NUMBER]');
  expect(JSON.stringify(engine.requests[0]!.body)).toContain('[IP_ADDRESS]');

  // An API key cannot claim a level with the header: its own level (internal, unclassified) counts.
  const { key } = await h.keyFor();
  const claimed = await h.post('/v1/chat/completions', chat(dep.name, 'hello'), key, { 'x-enclave-classification': '0' });
  expect(claimed.status).toBe(403);
});
