import { randomBytes } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { parseEnv } from '../core/env';
import { closeQueues } from '../core/queues';
import { closeRedis } from '../core/redis';
import { auditLog, dataClassifications, deploymentDataPolicies } from '../db/schema';
import { startGatewayServer, type GatewayServer } from '../gateway/server';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { makeDeployment } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { ingestDocument } from './ingest';

/**
 * Knowledge bases under data classification (issue 16 part 4 on issue 13's levels), on real PostgreSQL,
 * Redis and gateway, with a vLLM double embedding and answering: a document holding a card number raises
 * its base's level (audited, types and counts only); the owner declares a base's level and nobody else
 * can; a turn to a deployment that may receive internal data gets no passage of a confidential base and
 * says how many were withheld; a deployment allowed confidential data gets them, and the conversation rises.
 */
process.env.REDIS_PREFIX = testRedisPrefix('kbclass');

const CARD = '4111 1111 1111 1111';
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let engine: OpenAIDouble;
let gateway: GatewayServer;
let embedder: string;
type Session = Awaited<ReturnType<typeof api.userSession>>;
let admin: Session, alice: Session, bob: Session, carol: Session;
let team: string;
const masterKey = randomBytes(32);

beforeAll(async () => {
  t = await createTestDatabase('kbclass');
  engine = await startOpenAIDouble({ tokens: 3, firstTokenMs: 1, interTokenMs: 1 });
  embedder = (await makeDeployment(t.db, { name: 'embedder', engine: 'vllm' }, [engine.url])).deployment.name;
  const { deployment: internalEmbedder } = await makeDeployment(t.db, { name: 'internal-embedder', engine: 'vllm' }, [engine.url]);
  const { deployment: internalOnly } = await makeDeployment(t.db, { name: 'internal-only', engine: 'vllm', spec: { maxModelLen: 4096 } }, [engine.url]);
  const { deployment: confidentialOk } = await makeDeployment(t.db, { name: 'confidential-ok', engine: 'vllm', spec: { maxModelLen: 4096 } }, [engine.url]);
  await t.db.insert(deploymentDataPolicies).values([
    { deploymentId: internalOnly.id, maxLevel: 1, mode: 'block' },
    { deploymentId: internalEmbedder.id, maxLevel: 1, mode: 'block' },
    { deploymentId: confidentialOk.id, maxLevel: 2, mode: 'block' },
  ]);
  const env = parseEnv({ ENCLAVE_DATA_DIR: '/tmp/enclave-gateway-test', REDIS_PREFIX: process.env.REDIS_PREFIX });
  gateway = await startGatewayServer({ port: 0, host: '127.0.0.1', db: t.db, env, masterKey, routingRefreshMs: 200, authCacheMs: 200 });
  api = await startApiTestServer({ db: t.db, masterKey, gatewayUrl: gateway.url, env: { REDIS_PREFIX: process.env.REDIS_PREFIX } });
  admin = await api.userSession('admin');
  [alice, bob, carol] = await Promise.all([api.userSession('user'), api.userSession('user'), api.userSession('user')]);
  team = (await api.trpc('mutation', 'groups.create', { name: 'readers' }, admin.cookie)).data.id;
  for (const user of [alice, carol]) expect((await api.trpc('mutation', 'groups.addMember', { groupId: team, userId: user.user.id }, admin.cookie)).status).toBe(200);
});

afterAll(async () => {
  await api?.close();
  await gateway?.close();
  await engine?.close();
  await closeQueues();
  await closeRedis();
  await t?.drop();
});

const createKb = async (name: string, who = alice, groupIds: string[] = [], embeddingModel = embedder) => {
  const res = await api.trpc('mutation', 'knowledge.create', { name, embeddingModel, groupIds }, who.cookie);
  expect(res.status, res.error?.message).toBe(200);
  return res.data.id as string;
};

/** Uploads through the HTTP route and runs the knowledge queue's job inline (the same function the worker runs); the document row after it. */
async function ingestAs(kbId: string, name: string, text: string): Promise<{ id: string; status: string; error: string | null }> {
  const res = await api.request(`/api/knowledge/${kbId}/documents?name=${encodeURIComponent(name)}`, { method: 'POST', body: new Uint8Array(Buffer.from(text)), headers: { 'content-type': 'application/octet-stream' }, cookie: alice.cookie });
  expect(res.status, await res.clone().text()).toBe(201);
  const id = ((await res.json()) as { document: { id: string } }).document.id;
  await ingestDocument({ db: t.db, masterKey, gatewayUrl: gateway.url }, id);
  return (await api.trpc('query', 'knowledge.documents', { kbId }, alice.cookie)).data.find((d: { id: string }) => d.id === id);
}

async function ingest(kbId: string, name: string, text: string): Promise<string> {
  const doc = await ingestAs(kbId, name, text);
  expect(doc, doc?.error ?? undefined).toMatchObject({ status: 'ready' });
  return doc.id;
}

const levelRow = async (kind: 'knowledge_base' | 'conversation', id: string) =>
  (await t.db.select().from(dataClassifications).where(and(eq(dataClassifications.subjectKind, kind), eq(dataClassifications.subjectId, id))))[0];

const raises = (target: string) => t.db.select().from(auditLog).where(and(eq(auditLog.action, 'classification.raised'), eq(auditLog.target, target)));

describe('ingestion', () => {
  it('a document holding a card number raises its base to restricted, audited with types and counts only', async () => {
    const kb = await createKb('Payments');
    const clean = await createKb('Clean');
    const doc = await ingest(kb, 'cards.md', `# Travel\nBook flights early.\n## Payment\nThe corporate card is ${CARD} for travel, and trips are booked in euros.\n`);
    await ingest(clean, 'notes.md', '# Notes\nThe canteen serves soup on Tuesdays.\n');

    expect(await levelRow('knowledge_base', kb)).toMatchObject({ level: 3, setBy: 'detector', declaredLevel: null, findings: { bank_card: 1 } });
    expect(await levelRow('knowledge_base', clean)).toBeUndefined();
    const [audit] = await raises(`knowledge_base:${kb}`);
    expect(audit).toMatchObject({ actorUserId: alice.user.id, outcome: 'success', detail: { kind: 'knowledge_base', from: 'internal', to: 'restricted', findings: { bank_card: 1 }, by: 'detector', documentId: doc } });
    // No value anywhere: not in the classification row, not in any audit row.
    const everything = JSON.stringify([await levelRow('knowledge_base', kb), await t.db.select().from(auditLog)]);
    expect(everything).not.toContain('4111 1111');
    expect(everything).not.toContain('4111111111111111');
    // The owner sees it through the picker's query; a user of the group it is not shared with sees nothing.
    expect((await api.trpc('query', 'classification.get', { kind: 'knowledge_base', id: kb }, alice.cookie)).data).toMatchObject({ level: 3, findings: { bank_card: 1 } });
    expect((await api.trpc('query', 'classification.get', { kind: 'knowledge_base', id: kb }, bob.cookie)).status).toBe(404);
  });

  it("an embedding deployment that may receive internal data refuses the passages of a confidential base; the document says why", async () => {
    const plain = await createKb('Plain', alice, [], 'internal-embedder');
    expect((await ingestAs(plain, 'a.md', '# A\nThe office opens at eight.\n')).status).toBe('ready');
    const kb = await createKb('Confidential', alice, [], 'internal-embedder');
    expect((await api.trpc('mutation', 'classification.set', { kind: 'knowledge_base', id: kb, level: 2 }, alice.cookie)).status).toBe(200);
    const doc = await ingestAs(kb, 'b.md', '# B\nThe office opens at nine.\n');
    expect(doc.status).toBe('failed');
    expect(doc.error).toMatch(/classified confidential, above the highest level the deployment 'internal-embedder' may receive \(internal\)/);
  });
});

describe('declaring a level', () => {
  it('the owner declares it; bad input and other users are refused with a clear error', async () => {
    const kb = await createKb('Shared', alice, [team]);
    const set = (who: Session, body: Record<string, unknown>) => api.trpc('mutation', 'classification.set', { kind: 'knowledge_base', id: kb, ...body }, who.cookie);
    expect((await set(alice, { level: 2 })).status).toBe(200);
    expect((await api.trpc('query', 'classification.get', { kind: 'knowledge_base', id: kb }, alice.cookie)).data).toMatchObject({ level: 2, declaredLevel: 2, setBy: 'user' });

    const tooHigh = await set(alice, { level: 7 });
    expect(tooHigh.status).toBe(400);
    expect(tooHigh.error?.message).toMatch(/level must be from 0 to 3/);
    const named = await set(alice, { level: 'secret' });
    expect(named.status).toBe(400);
    expect(named.error?.message).toMatch(/level must be a number from 0 to 3/);
    const kind = await api.trpc('mutation', 'classification.set', { kind: 'knowledgebase', id: kb, level: 1 }, alice.cookie);
    expect(kind.status).toBe(400);
    expect(kind.error?.message).toMatch(/kind must be conversation, dataset, api_key or knowledge_base/);

    // Carol may search it (shared with her group) and read its level, not change it; Bob cannot see it at all.
    expect((await api.trpc('query', 'classification.get', { kind: 'knowledge_base', id: kb }, carol.cookie)).data).toMatchObject({ level: 2 });
    const shared = await set(carol, { level: 0 });
    expect(shared.status).toBe(403);
    expect(shared.error?.message).toMatch(/Only its owner can change a knowledge base's level/);
    const foreign = await set(bob, { level: 0 });
    expect(foreign.status).toBe(404);
    expect(foreign.error?.message).toBe('Knowledge base not found');
    expect((await api.trpc('mutation', 'classification.set', { kind: 'knowledge_base', id: 'not-a-uuid', level: 1 }, alice.cookie)).status).toBe(404);
    expect((await levelRow('knowledge_base', kb))?.declaredLevel).toBe(2);
  });

  it("erasing a person removes their bases' levels with the bases", async () => {
    const leaving = await api.userSession('user');
    const kb = await createKb('Leaving', leaving);
    expect((await api.trpc('mutation', 'classification.set', { kind: 'knowledge_base', id: kb, level: 3 }, leaving.cookie)).status).toBe(200);
    expect(await levelRow('knowledge_base', kb)).toMatchObject({ level: 3 });
    const erased = await api.trpc('mutation', 'users.erase', { id: leaving.user.id, confirmationText: leaving.email }, admin.cookie);
    expect(erased.status, erased.error?.message).toBe(200);
    expect(erased.data.deleted).toMatchObject({ knowledgeBases: 1, classifications: 1 });
    expect(await levelRow('knowledge_base', kb)).toBeUndefined();
  });

  it('deleting a base removes its level with it', async () => {
    const kb = await createKb('Short-lived', alice);
    expect((await api.trpc('mutation', 'classification.set', { kind: 'knowledge_base', id: kb, level: 2 }, alice.cookie)).status).toBe(200);
    expect(await levelRow('knowledge_base', kb)).toMatchObject({ level: 2 });
    expect((await api.trpc('mutation', 'knowledge.delete', { id: kb }, alice.cookie)).status).toBe(200);
    expect(await levelRow('knowledge_base', kb)).toBeUndefined();
  });
});

describe('chat', () => {
  it("a deployment that may receive internal data gets no passage of a confidential base and says how many were withheld; one allowed confidential gets them and the conversation rises", async () => {
    const secret = await createKb('Logistics');
    expect((await api.trpc('mutation', 'classification.set', { kind: 'knowledge_base', id: secret, level: 2 }, alice.cookie)).status).toBe(200);
    await ingest(secret, 'warehouse.md', '# Logistics\nThe main warehouse is in Rotterdam near the harbour.\n\n# Stock\nThe warehouse holds spare parts for two years.\n');
    const open = await createKb('Canteen');
    await ingest(open, 'canteen.md', '# Canteen\nThe warehouse canteen serves soup on Tuesdays.\n');

    // knowledge.search reports each base's level.
    const hits = (await api.trpc('query', 'knowledge.search', { kbIds: [secret, open], query: 'Where is the warehouse?' }, alice.cookie)).data as { kbId: string; kbLevel: number; kbLevelName: string }[];
    expect(hits.find((h) => h.kbId === secret)).toMatchObject({ kbLevel: 2, kbLevelName: 'confidential' });
    expect(hits.find((h) => h.kbId === open)).toMatchObject({ kbLevel: 1, kbLevelName: 'internal' });

    const conversationId = (await api.trpc('mutation', 'conversations.create', { title: 'kb chat' }, alice.cookie)).data.id as string;
    for (const kbId of [secret, open]) expect((await api.trpc('mutation', 'knowledge.attach', { conversationId, kbId }, alice.cookie)).status).toBe(200);

    engine.clear();
    const limited = await api.stream('chat.send', { conversationId, model: 'internal-only', parentId: null, content: 'Where is the warehouse?' }, { cookie: alice.cookie });
    expect(limited.status, limited.error?.message).toBe(200);
    const sentLimited = JSON.stringify(engine.requests.at(-1)!.body);
    expect(sentLimited).not.toMatch(/Rotterdam|spare parts/);
    expect(sentLimited).toContain('canteen serves soup');
    const done = limited.events.find((e: { event?: string; data?: { withheld?: unknown } }) => e.data?.withheld)?.data as { withheld: unknown; citations: unknown[] };
    expect(done.withheld).toEqual({ passages: 2, levels: ['confidential'], model: 'internal-only', maxLevel: 'internal' });
    expect(done.citations).toHaveLength(1);
    const reply = (await api.trpc('query', 'conversations.get', { id: conversationId }, alice.cookie)).data.messages.find((m: { role: string }) => m.role === 'assistant');
    expect(reply.metadata.withheld).toEqual(done.withheld);
    expect(JSON.stringify(reply.metadata)).not.toMatch(/Rotterdam|warehouse\.md|Logistics/);
    // Only internal passages flowed in: the conversation stays where it was.
    expect((await levelRow('conversation', conversationId))?.level ?? 1).toBe(1);
    expect(await raises(`conversation:${conversationId}`)).toEqual([]);

    engine.clear();
    const allowed = await api.stream('chat.send', { conversationId, model: 'confidential-ok', parentId: null, content: 'Where is the warehouse?' }, { cookie: alice.cookie });
    expect(allowed.status, allowed.error?.message).toBe(200);
    expect(JSON.stringify(engine.requests.at(-1)!.body)).toContain('The main warehouse is in Rotterdam');
    expect(allowed.events.some((e: { data?: { withheld?: unknown } }) => e.data?.withheld)).toBe(false);
    expect(await levelRow('conversation', conversationId)).toMatchObject({ level: 2 });
    const [raised] = await raises(`conversation:${conversationId}`);
    expect(raised?.detail).toMatchObject({ from: 'internal', to: 'confidential', by: 'knowledge', knowledgeBaseIds: expect.arrayContaining([secret]) });

    // Going on from that reply with the internal-only model: its answer may repeat the passages, so the gateway refuses the turn, saying why.
    const replyId = (allowed.events.find((e: { data?: { assistantMessageId?: string } }) => e.data?.assistantMessageId)?.data as { assistantMessageId: string }).assistantMessageId;
    engine.clear();
    const after = await api.stream('chat.send', { conversationId, model: 'internal-only', parentId: replyId, content: 'And the stock?' }, { cookie: alice.cookie });
    expect(after.status).toBe(403);
    expect(after.error?.message).toMatch(/classified confidential, above the highest level the deployment 'internal-only' may receive \(internal\)/);
    expect(engine.requests.filter((r) => r.path === '/v1/chat/completions')).toEqual([]);

    // Everything withheld: the model is told the answer is in documents it may not be shown, and nothing is cited.
    const onlySecret = (await api.trpc('mutation', 'conversations.create', { title: 'secret only' }, alice.cookie)).data.id as string;
    await api.trpc('mutation', 'knowledge.attach', { conversationId: onlySecret, kbId: secret }, alice.cookie);
    engine.clear();
    const none = await api.stream('chat.send', { conversationId: onlySecret, model: 'internal-only', parentId: null, content: 'Where is the warehouse?' }, { cookie: alice.cookie });
    expect(none.status).toBe(200);
    const system = (engine.requests.at(-1)!.body as { messages: { role: string; content: string }[] }).messages[0]!;
    expect(system.content).toMatch(/classified above what you may receive/);
    expect(JSON.stringify(engine.requests.at(-1)!.body)).not.toContain('Rotterdam');
    const count = await t.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM data_classifications WHERE subject_kind = 'conversation' AND subject_id = ${onlySecret}`);
    expect(count.rows[0]!.n).toBe(0);
  });
});
