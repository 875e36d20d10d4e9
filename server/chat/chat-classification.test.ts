import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { parseEnv } from '../core/env';
import { closeRedis } from '../core/redis';
import { auditLog, dataClassifications, deploymentDataPolicies, messages } from '../db/schema';
import { startGatewayServer, type GatewayServer } from '../gateway/server';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { makeDeployment } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';

/**
 * The browser's chat path with data protection (issue 13): the conversation's level travels to the real
 * gateway on the internal path; a public-only deployment refuses a conversation holding an ID number
 * (nothing is stored, the refusal says why), a masking one receives [ID_NUMBER]; the conversation's level
 * rises with what its messages hold, and a user lowers it only explicitly, never below what was found.
 */
process.env.REDIS_PREFIX = testRedisPrefix('chatclass');

const ID = '11010519491231002X';
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let engine: OpenAIDouble;
let gateway: GatewayServer;
const masterKey = randomBytes(32);

beforeAll(async () => {
  t = await createTestDatabase('chatclass');
  // The engine double: records what each deployment was sent.
  engine = await startOpenAIDouble({ tokens: 3, firstTokenMs: 1, interTokenMs: 1 });
  const { deployment: publicOnly } = await makeDeployment(t.db, { name: 'public-only' }, [engine.url]);
  const { deployment: masking } = await makeDeployment(t.db, { name: 'masking' }, [engine.url]);
  await t.db.insert(deploymentDataPolicies).values([
    { deploymentId: publicOnly.id, maxLevel: 0, mode: 'block' },
    { deploymentId: masking.id, maxLevel: 0, mode: 'mask' },
  ]);
  const env = parseEnv({ ENCLAVE_DATA_DIR: '/tmp/enclave-gateway-test', REDIS_PREFIX: process.env.REDIS_PREFIX });
  gateway = await startGatewayServer({ port: 0, host: '127.0.0.1', db: t.db, env, masterKey, routingRefreshMs: 200, authCacheMs: 200 });
  api = await startApiTestServer({ db: t.db, masterKey, gatewayUrl: gateway.url, env: { REDIS_PREFIX: process.env.REDIS_PREFIX } });
});
afterAll(async () => {
  await api?.close();
  await gateway?.close();
  await engine?.close();
  await closeRedis();
  await t?.drop();
});

async function classification(conversationId: string) {
  const [row] = await t.db
    .select()
    .from(dataClassifications)
    .where(and(eq(dataClassifications.subjectKind, 'conversation'), eq(dataClassifications.subjectId, conversationId)));
  return row;
}

it('a conversation with an ID number is refused by a public-only deployment and masked for a masking one', async () => {
  const alice = await api.userSession('user');
  const conversationId = (await api.trpc('mutation', 'conversations.create', {}, alice.cookie)).data.id as string;

  // Unclassified, the conversation is internal: a public-only deployment refuses it, saying why.
  const unclassified = await api.stream('chat.send', { conversationId, model: 'public-only', parentId: null, content: 'hello' }, { cookie: alice.cookie });
  expect(unclassified.status).toBe(403);
  expect(unclassified.error?.message).toMatch(/classified internal, above the highest level the deployment 'public-only' may receive \(public\)/);

  // Declared public by its owner (explicit, audited): plain text passes, an ID number does not.
  expect((await api.trpc('mutation', 'classification.set', { kind: 'conversation', id: conversationId, level: 0 }, alice.cookie)).status).toBe(200);
  engine.clear();
  const plain = await api.stream('chat.send', { conversationId, model: 'public-only', parentId: null, content: 'hello' }, { cookie: alice.cookie });
  expect(plain.status).toBe(200);

  const refused = await api.stream('chat.send', { conversationId, model: 'public-only', parentId: null, content: `my ID is ${ID}` }, { cookie: alice.cookie });
  expect(refused.status).toBe(403);
  expect(refused.error?.message).toMatch(/holds cn_id ×1, which makes it restricted, above the highest level the deployment 'public-only' may receive \(public\)/);
  expect(refused.error?.message).not.toContain(ID);
  expect(engine.requests.filter((r) => JSON.stringify(r.body).includes(ID))).toEqual([]);
  // Nothing of the refused turn was stored; the conversation's level is unchanged.
  const stored = await t.db.select({ id: messages.id }).from(messages).where(eq(messages.conversationId, conversationId));
  expect(stored).toHaveLength(2); // the plain turn: its question and answer
  expect((await classification(conversationId))?.level).toBe(0);

  // The masking deployment receives the label instead of the number; the turn is stored and raises the level.
  engine.clear();
  const masked = await api.stream('chat.send', { conversationId, model: 'masking', parentId: null, content: `my ID is ${ID}` }, { cookie: alice.cookie });
  expect(masked.status).toBe(200);
  expect(engine.requests).toHaveLength(1);
  const sent = engine.requests[0]!.body as { messages: { content: string }[] };
  expect(sent.messages.at(-1)!.content).toBe('my ID is [ID_NUMBER]');
  expect(JSON.stringify(sent)).not.toContain(ID);
  const row = await classification(conversationId);
  expect(row).toMatchObject({ level: 3, declaredLevel: 0, setBy: 'detector', findings: { cn_id: 1 } });

  // Refusal and redaction are audited with types and counts, naming the conversation, never the value.
  const rows = await t.db.select().from(auditLog).where(eq(auditLog.actorUserId, alice.user.id));
  const refusal = rows.find((r) => r.action === 'data_protection.refused' && (r.detail as { findings?: object }).findings && Object.keys((r.detail as { findings: object }).findings).length);
  expect(refusal?.detail).toMatchObject({ via: 'chat', conversationId, findings: { cn_id: 1 }, level: 'restricted', maxLevel: 'public' });
  expect(rows.find((r) => r.action === 'data_protection.masked')?.detail).toMatchObject({ via: 'chat', conversationId, findings: { cn_id: 1 } });
  // The detector's raise is on the record too: from, to, types and counts.
  expect(rows.find((r) => r.action === 'classification.raised')).toMatchObject({
    target: `conversation:${conversationId}`,
    detail: { from: 'public', to: 'restricted', findings: { cn_id: 1 }, by: 'detector' },
  });
  expect(JSON.stringify(rows.map((r) => r.detail))).not.toContain(ID);

  // The owner may not lower it below what it holds; the badge's query says where it stands.
  await api.trpc('mutation', 'classification.set', { kind: 'conversation', id: conversationId, level: 1 }, alice.cookie);
  const read = await api.trpc('query', 'classification.get', { kind: 'conversation', id: conversationId }, alice.cookie);
  expect(read.data).toMatchObject({ level: 3, declaredLevel: 1, findings: { cn_id: 1 }, names: ['public', 'internal', 'confidential', 'restricted'] });

  // Bad input names the field.
  const bad = await api.trpc('mutation', 'classification.set', { kind: 'conversation', id: conversationId, level: 7 }, alice.cookie);
  expect(bad.status).toBe(400);
  expect(bad.error?.message).toMatch(/level/);
});

it('admins vet custom rules on save and test text without keeping it', async () => {
  const admin = await api.userSession('admin');
  const risky = await api.trpc('mutation', 'dataProtection.saveRule', { name: 'bad', kind: 'regex', pattern: '(a+)+$', level: 2 }, admin.cookie);
  expect(risky.status).toBe(400);
  expect(risky.error?.message).toMatch(/^pattern could backtrack catastrophically/);
  const saved = await api.trpc('mutation', 'dataProtection.saveRule', { name: 'employee', kind: 'regex', pattern: 'EMP-\\d{6}', level: 2 }, admin.cookie);
  expect(saved.status).toBe(200);
  const tested = await api.trpc('mutation', 'dataProtection.test', { text: `EMP-123456 and ${ID}` }, admin.cookie);
  expect(tested.data).toEqual({ counts: { 'custom:employee': 1, cn_id: 1 }, level: 3 });
  const rows = await t.db.select().from(auditLog).where(eq(auditLog.action, 'dataProtection.test'));
  expect(rows).toHaveLength(1);
  expect(JSON.stringify(rows[0]!.detail)).not.toContain(ID);
  const settings = await api.trpc('query', 'dataProtection.settings', undefined, admin.cookie);
  expect(settings.data.deployments).toEqual(
    expect.arrayContaining([expect.objectContaining({ name: 'public-only', maxLevel: 0, mode: 'block', isDefault: false })]),
  );
});
