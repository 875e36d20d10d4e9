import { randomBytes, randomUUID } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { createDb } from '../db/client';
import { auditLog, battles, messages, replyStreams } from '../db/schema';
import type { AuditEntry } from '../security/audit';
import { verifyAuditChain } from '../security/audit-verify';
import { decryptText } from '../security/encryption';
import { internalToken } from '../security/master-key';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { makeDeployment } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';
import { Conversations } from './conversations';
import { sweepInterruptedReplies } from './interrupted-replies';
import { Messages } from './messages';
import { CHECKPOINT_BYTES, ReplyStream } from './reply-stream';
import { startApiProcess, type ApiProcess } from './testing/api-process-handle';
import { streamedEvents, type StreamedEvent } from '../api/testing/stream-client';

/**
 * Finding 12 of issue 9: a process killed mid-stream lost the reply the user had already read, and the
 * turn had no audit row. Here the real API handler runs in a child process that is killed with
 * SIGKILL in the middle of a chat turn and of an arena round; what it had saved must stay, marked
 * interrupted by the worker's sweep, and each call must be audited exactly once.
 */
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let gateway: OpenAIDouble;
let alice: Awaited<ReturnType<typeof api.userSession>>;
const children: ApiProcess[] = [];
const masterKey = randomBytes(32);

beforeAll(async () => {
  t = await createTestDatabase('interrupted');
  // One piece ("w123 ") every 2 ms: 4,096 of them take seconds, time to kill the process mid-stream.
  gateway = await startOpenAIDouble({ apiKey: internalToken(masterKey), tokens: 100_000, token: (i) => `w${i} `, firstTokenMs: 2, interTokenMs: 2 });
  api = await startApiTestServer({ db: t.db, masterKey, gatewayUrl: gateway.url });
  alice = await api.userSession('user');
});
afterAll(async () => {
  for (const c of children) await c.kill();
  await api?.close();
  await gateway?.close();
  await t?.drop();
});

const webProcess = async () => {
  const child = await startApiProcess({ databaseUrl: t.url, masterKey, gatewayUrl: gateway.url, replyLeaseMs: 1_000 });
  children.push(child);
  return child;
};

async function stored(id: string) {
  const [row] = await t.db.select().from(messages).where(eq(messages.id, id));
  return row && { content: await decryptText(t.db, masterKey, row.contentEnc, row.dataKeyId), metadata: row.metadata };
}

/** Everything the double would stream for `pieces` tokens: a saved reply must be a beginning of it. */
const streamed = (pieces: number) => Array.from({ length: pieces }, (_, i) => `w${i} `).join('');

const auditRows = (action: string, target: string) => t.db.select().from(auditLog).where(and(eq(auditLog.action, action), eq(auditLog.target, target)));

/**
 * Reads the stream until each of its `replies` (ids, known after the meta event) shows a few KB and the
 * database holds at least CHECKPOINT_BYTES of each, then kills the process with SIGKILL.
 */
async function killOnceSaved(child: ApiProcess, events: AsyncIterable<StreamedEvent>, replies: number, replyIds: (meta: any) => Promise<string[]>) {
  const shown = new Map<string, string>();
  let meta: any;
  let ids: string[] = [];
  const saved = new Map<string, string>();
  for await (const e of events) {
    if (e.event === 'meta') meta = e.data;
    else if (e.event === 'delta') shown.set(e.data.side ?? 'chat', (shown.get(e.data.side ?? 'chat') ?? '') + e.data.text);
    else throw new Error(`the stream ended (${e.event}) before the kill`);
    if (shown.size === replies && [...shown.values()].every((s) => s.length >= CHECKPOINT_BYTES + 2_048)) {
      ids = await replyIds(meta);
      for (const id of ids) saved.set(id, (await stored(id))?.content ?? '');
      if (ids.length === replies && [...saved.values()].every((s) => s.length >= CHECKPOINT_BYTES)) break;
    }
  }
  await child.kill();
  return { ids, saved, shown };
}

it('keeps what a killed web process had streamed as an interrupted reply, and audits the turn once', async () => {
  const child = await webProcess();
  const conversationId = (await api.trpc('mutation', 'conversations.create', {}, alice.cookie)).data.id as string;
  const events = streamedEvents(child.base, 'chat.send', { conversationId, model: 'long', parentId: null, content: 'Tell me everything about zebra-77', maxTokens: 4096 }, { cookie: alice.cookie });
  const { ids, saved, shown } = await killOnceSaved(child, events, 1, async (meta) => [meta.assistantMessageId]);
  const replyId = ids[0]!;

  // What the dead process had saved is there, encrypted: the beginning of the reply the user was reading.
  const before = (await stored(replyId))!;
  expect(before.content.length).toBeGreaterThanOrEqual(saved.get(replyId)!.length);
  expect(shown.get('chat')!.length).toBeGreaterThan(CHECKPOINT_BYTES);
  expect(streamed(4096).startsWith(before.content)).toBe(true);
  const [raw] = await t.db.select().from(messages).where(eq(messages.id, replyId));
  expect(raw!.contentEnc.toString('latin1')).not.toContain('w10 w11');

  const ended = await until('the sweep ends the expired lease', async () => {
    const swept = await sweepInterruptedReplies(t.db);
    return swept.length > 0 && swept;
  });
  expect(ended).toHaveLength(1);
  const after = (await stored(replyId))!;
  expect(after.content).toBe(before.content);
  expect(after.metadata).toMatchObject({ interrupted: true, finishReason: 'interrupted', interruptedReason: expect.stringMatching(/server stopped/) });
  expect(after.metadata.streaming).toBeUndefined();

  // The turn's audit row, as the frame would have written it, once; the chain still verifies.
  const rows = await auditRows('chat.send', conversationId);
  expect(rows.map((r) => [r.outcome, r.actorUserId, r.actorLabel, r.detail])).toEqual([
    ['failure', alice.user.id, alice.email, { error: 'INTERRUPTED', assistantMessageId: replyId, stopped: false, model: 'long', kind: 'send' }],
  ]);
  expect(JSON.stringify(rows)).not.toContain('zebra-77');
  expect(await sweepInterruptedReplies(t.db)).toEqual([]);
  expect(await auditRows('chat.send', conversationId)).toHaveLength(1);
  expect((await verifyAuditChain(t.db)).ok).toBe(true);

  // The user sees the reply, marked, and can ask for another one.
  const conversation = (await api.trpc('query', 'conversations.get', { id: conversationId }, alice.cookie)).data;
  const [user, reply] = conversation.messages;
  expect(user.content).toBe('Tell me everything about zebra-77');
  expect(reply).toMatchObject({ id: replyId, parentId: user.id, content: before.content, metadata: { interrupted: true } });
  const again = await api.stream('chat.send', { conversationId, model: 'tiny', regenerateFrom: user.id, maxTokens: 3 }, { cookie: alice.cookie });
  expect(again.events.at(-1)?.event).toBe('done');
}, 120_000);

it('keeps both answers of an arena round killed mid-stream, with no battle to vote on, and audits the round once', async () => {
  await makeDeployment(t.db, { name: 'arena-left' }, ['http://127.0.0.1:1']);
  await makeDeployment(t.db, { name: 'arena-right' }, ['http://127.0.0.1:1']);
  const child = await webProcess();
  const events = streamedEvents(child.base, 'arena.start', { content: 'A long story please', maxTokens: 2048 }, { cookie: alice.cookie });
  let conversationId = '';
  const answersOf = async (meta: { conversationId: string }) => {
    conversationId = meta.conversationId;
    const rows = await t.db.select({ id: messages.id }).from(messages).where(and(eq(messages.conversationId, conversationId), eq(messages.role, 'assistant')));
    return rows.map((r) => r.id);
  };
  const { ids, saved, shown } = await killOnceSaved(child, events, 2, answersOf);
  await until('the sweep ends the expired lease', async () => (await sweepInterruptedReplies(t.db)).length > 0);
  expect(shown.size).toBe(2);
  for (const id of ids) {
    const after = (await stored(id))!;
    expect(after.content.length).toBeGreaterThanOrEqual(saved.get(id)!.length);
    expect(streamed(2048).startsWith(after.content)).toBe(true);
    expect(after.metadata).toMatchObject({ interrupted: true, arena: { side: expect.stringMatching(/^[ab]$/) } });
  }
  expect(await t.db.select().from(battles).where(eq(battles.conversationId, conversationId))).toEqual([]);
  const rows = await auditRows('arena.start', conversationId);
  expect(rows.map((r) => [r.outcome, r.actorUserId, r.detail])).toEqual([['failure', alice.user.id, { error: 'INTERRUPTED' }]]);
}, 120_000);

it('settles each call once when several workers sweep at once and a stalled writer comes back late', async () => {
  const conversations = new Conversations(t.db, masterKey, alice.user.id);
  const owned = new Messages(t.db, masterKey, alice.user.id);
  const { id: conversationId } = await conversations.create({ title: 'late writers' });
  const { id: parentId } = await owned.add({ conversationId, parentId: null, role: 'user', content: 'hello' });
  const entry = (outcome: AuditEntry['outcome'], detail: Record<string, unknown>): AuditEntry => ({ actorUserId: alice.user.id, action: 'chat.send', target: conversationId, outcome, detail });
  const writers = await Promise.all(
    [0, 1, 2].map(async () => {
      const id = randomUUID();
      const stream = await ReplyStream.open(t.db, masterKey, { messageIds: [id], interrupted: entry('failure', { error: 'INTERRUPTED', assistantMessageId: id }), leaseMs: 60_000 });
      const draft = await stream.begin(owned, { id, conversationId, parentId, model: 'm' });
      draft.append('first part; ');
      await draft.save();
      return { id, stream, draft };
    }),
  );
  // Their writers stall past the lease (a stopped process, a partitioned host): the leases run out.
  await t.db.update(replyStreams).set({ leaseUntil: sql`now() - interval '1 second'` });

  const others = [createDb(t.url, 2), createDb(t.url, 2)];
  try {
    const swept = await Promise.all([sweepInterruptedReplies(t.db), ...others.map((db) => sweepInterruptedReplies(db))]);
    expect(swept.flat().sort()).toEqual(writers.map((w) => w.stream.id).sort());
  } finally {
    for (const db of others) await db.$client.end();
  }

  // The writers come back and finish: their text is kept, the sweep's marker and audit row stand.
  for (const w of writers) {
    w.draft.append('and the rest.');
    await w.draft.finish({ finishReason: 'stop', stopped: false });
    expect(await w.stream.close(entry('success', { assistantMessageId: w.id }))).toBe(false);
    expect(await stored(w.id)).toMatchObject({ content: 'first part; and the rest.', metadata: { interrupted: true } });
  }
  const rows = await auditRows('chat.send', conversationId);
  expect(rows.map((r) => r.detail.assistantMessageId).sort()).toEqual(writers.map((w) => w.id).sort());
  expect(rows.every((r) => r.outcome === 'failure' && r.detail.error === 'INTERRUPTED')).toBe(true);
  expect((await verifyAuditChain(t.db)).ok).toBe(true);
});

it('leaves a live writer alone: its lease is renewed, its text saved as it streams, and its own audit row written at the end', async () => {
  const conversations = new Conversations(t.db, masterKey, alice.user.id);
  const owned = new Messages(t.db, masterKey, alice.user.id);
  const { id: conversationId } = await conversations.create({ title: 'a live writer' });
  const { id: parentId } = await owned.add({ conversationId, parentId: null, role: 'user', content: 'hello' });
  const id = randomUUID();
  const entry = (outcome: AuditEntry['outcome'], detail: Record<string, unknown>): AuditEntry => ({ actorUserId: alice.user.id, action: 'chat.send', target: conversationId, outcome, detail });
  const stream = await ReplyStream.open(t.db, masterKey, { messageIds: [id], interrupted: entry('failure', { error: 'INTERRUPTED' }), leaseMs: 3_000 });
  const draft = await stream.begin(owned, { id, conversationId, parentId, model: 'm' });
  expect(await stored(id)).toEqual({ content: '', metadata: { streaming: true } });

  // A few KB are saved at once; a short tail within the next periodic save.
  draft.append('x'.repeat(CHECKPOINT_BYTES));
  await until('the size checkpoint', async () => (await stored(id))!.content.length === CHECKPOINT_BYTES);
  draft.append('tail');
  await until('the periodic checkpoint', async () => (await stored(id))!.content.endsWith('tail'));

  // Longer than its lease: the renewals keep it out of the sweep's reach.
  const leaseUntil = async () => (await t.db.select().from(replyStreams).where(eq(replyStreams.id, stream.id)))[0]!.leaseUntil.getTime();
  const first = await leaseUntil();
  await until('the lease it opened with to run out', async () => Date.now() > first);
  expect(await sweepInterruptedReplies(t.db)).toEqual([]);
  expect(await leaseUntil()).toBeGreaterThan(first);

  await draft.finish({ finishReason: 'stop', stopped: false });
  expect(await stream.close(entry('success', { assistantMessageId: id }))).toBe(true);
  expect(await stored(id)).toEqual({ content: 'x'.repeat(CHECKPOINT_BYTES) + 'tail', metadata: { finishReason: 'stop', stopped: false } });
  expect(await t.db.select().from(replyStreams).where(inArray(replyStreams.id, [stream.id]))).toEqual([]);
  expect((await auditRows('chat.send', conversationId)).map((r) => r.outcome)).toEqual(['success']);
});
