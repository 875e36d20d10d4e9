import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { streamedEvents, type StreamedEvent } from '../server/api/testing/stream-client';
import { transformer } from '../server/api/transformer';
import { auditLog, deploymentReplicas, messages } from '../server/db/schema';
import { isAlive } from '../server/process/detached-process';
import { decryptText } from '../server/security/encryption';
import { freePort } from '../server/core/net/free-port';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../server/testing/database';
import { until } from '../server/testing/until';
import { startProduct, type RunningProduct } from './testing/product';

/**
 * Faults a user lives through, on the product as an operator runs it (`enclave start`, the real
 * stories260K engine, PostgreSQL and Redis on their own hosts): the engine killed with SIGKILL in the
 * middle of a reply, then the whole process group killed in the middle of a reply and started again.
 * Each asserts what the user keeps: the text already on screen (marked failed or interrupted), a turn
 * that carries on, and one audit row per turn in a chain that still verifies.
 */
const modelsDir = path.resolve(import.meta.dirname, '../models');
const masterKey = randomBytes(32);
const ADMIN = { email: 'admin@example.test', password: 'admin password 1' };
let t: TestDatabase;
let dataDir: string;
let port: number;
let product: RunningProduct | undefined;
const enginePids = new Set<number>();

const env = () => ({
  PORT: String(port),
  HOST: '127.0.0.1',
  DATABASE_URL: t.url,
  REDIS_PREFIX: testRedisPrefix('crash'),
  ENCLAVE_DATA_DIR: dataDir,
  ENCLAVE_MODELS_DIR: modelsDir,
  ENCLAVE_MASTER_KEY: masterKey.toString('hex'),
  ENCLAVE_ADMIN_EMAIL: ADMIN.email,
  ENCLAVE_ADMIN_PASSWORD: ADMIN.password,
  ENCLAVE_SECURE_COOKIES: 'false',
  // Room for a 4,096-token reply: about 8 KB of stories260K's text, streamed over seconds.
  ENCLAVE_LLAMACPP_CONTEXT: '8192',
  ENCLAVE_LLAMACPP_SEQUENCES: '1',
  // A dead writer's reply is settled by the first worker sweep after this.
  ENCLAVE_REPLY_LEASE_MS: '3000',
  LOG_LEVEL: 'warn',
});

beforeAll(async () => {
  t = await createTestDatabase('crash');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-crash-'));
  port = await freePort();
});
afterAll(async () => {
  await product?.stop();
  for (const pid of enginePids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await t?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const base = () => `http://127.0.0.1:${port}`;

async function signIn(): Promise<string> {
  const res = await fetch(`${base()}/api/trpc/auth.signIn`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) });
  expect(res.status).toBe(200);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

async function trpc(cookie: string, kind: 'query' | 'mutation', name: string, input?: unknown) {
  const url = `${base()}/api/trpc/${name}` + (kind === 'query' && input !== undefined ? `?input=${encodeURIComponent(JSON.stringify(input))}` : '');
  const res = await fetch(url, kind === 'query' ? { headers: { cookie } } : { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(input ?? null) });
  const body = (await res.json()) as { result?: { data: any }; error?: unknown };
  if (!res.ok) throw new Error(`${name}: ${res.status} ${JSON.stringify(body.error)}`);
  return transformer.output.deserialize(body.result!.data) as any;
}

const chat = (cookie: string, body: Record<string, unknown>) => streamedEvents(base(), 'chat.send', { model: 'stories260K', maxTokens: 4096, ...body }, { cookie });

/** How a turn ended: its last event (done, or error). */
async function ending(events: AsyncIterable<StreamedEvent>) {
  let last: string | undefined;
  for await (const e of events) last = e.event;
  return last;
}

const readyEngine = (notPid?: number) =>
  until('a ready stories260K engine', async () => {
    const [r] = await t.db.select().from(deploymentReplicas).where(eq(deploymentReplicas.status, 'ready'));
    if (r?.pid) enginePids.add(r.pid);
    return r?.pid && r.pid !== notPid ? r : undefined;
  }, 120_000);

async function stored(id: string) {
  const [row] = await t.db.select().from(messages).where(eq(messages.id, id));
  return row && { content: await decryptText(t.db, masterKey, row.contentEnc, row.dataKeyId), metadata: row.metadata };
}

const turnAudits = (conversationId: string) => t.db.select().from(auditLog).where(and(eq(auditLog.action, 'chat.send'), eq(auditLog.target, conversationId)));

test('kill -9 of the engine, then of the whole process group, in the middle of replies: the user keeps what was shown and every turn is audited', async () => {
  product = await startProduct(env());
  const engine = await readyEngine();
  const cookie = await signIn();

  // The engine dies mid-reply: the reply ends with an error, and everything shown is saved, marked failed.
  const first = (await trpc(cookie, 'mutation', 'conversations.create', {})).id as string;
  let shown = '';
  let replyId = '';
  const ends: string[] = [];
  for await (const e of chat(cookie, { conversationId: first, parentId: null, content: 'Once upon a time' })) {
    if (e.event === 'meta') replyId = e.data.assistantMessageId;
    else if (e.event === 'delta') {
      shown += e.data.text;
      if (shown.length >= 2_048 && isAlive(engine.pid!)) process.kill(engine.pid!, 'SIGKILL');
    } else ends.push(e.event);
  }
  expect(ends).toEqual(['error']);
  expect(shown.length).toBeGreaterThanOrEqual(2_048);
  const failed = (await stored(replyId))!;
  expect(failed.content).toBe(shown);
  expect(failed.metadata).toMatchObject({ failed: true, stopped: false });
  expect((await turnAudits(first)).map((r) => [r.outcome, r.detail.assistantMessageId])).toEqual([['failure', replyId]]);

  // The agent restarts the engine and the conversation carries on from the failed reply.
  await readyEngine(engine.pid!);
  expect(await ending(chat(cookie, { conversationId: first, parentId: replyId, content: 'And then?', maxTokens: 16 }))).toBe('done');

  // The whole process group dies mid-reply (the detached engine lives on, as on a real host).
  const second = (await trpc(cookie, 'mutation', 'conversations.create', {})).id as string;
  shown = '';
  let savedBefore = '';
  let lookedAt = 0;
  for await (const e of chat(cookie, { conversationId: second, parentId: null, content: 'Once upon a time' })) {
    if (e.event === 'meta') replyId = e.data.assistantMessageId;
    else if (e.event === 'delta') shown += e.data.text;
    else throw new Error(`the reply ended (${e.event}) before the kill`);
    // Once a few KB are on screen and the database holds some of it (looked at now and then, so reading keeps up).
    if (shown.length < 2_048 || Date.now() - lookedAt < 200) continue;
    lookedAt = Date.now();
    if ((savedBefore = (await stored(replyId))?.content ?? '').length >= 1_024) break;
  }
  await product.killGroup();
  const orphan = (await stored(replyId))!;
  expect(orphan.content.startsWith(savedBefore)).toBe(true);
  expect(shown.startsWith(orphan.content) || orphan.content.startsWith(shown)).toBe(true);
  expect(orphan.metadata).toEqual({ streaming: true });
  expect(await turnAudits(second)).toEqual([]);

  // Started again, the worker's sweep settles the turn: the reply kept and marked, the turn audited once.
  product = await startProduct(env());
  await until('the reply marked interrupted', async () => (await stored(replyId))!.metadata.interrupted === true, 90_000);
  const again = await signIn();
  const conversation = await trpc(again, 'query', 'conversations.get', { id: second });
  const reply = conversation.messages.find((m: { id: string }) => m.id === replyId);
  expect(reply.content).toBe(orphan.content);
  expect(reply.metadata).toMatchObject({ interrupted: true, finishReason: 'interrupted' });
  const audits = await turnAudits(second);
  expect(audits.map((r) => [r.outcome, r.actorLabel, r.detail])).toEqual([
    ['failure', ADMIN.email, { error: 'INTERRUPTED', assistantMessageId: replyId, stopped: false, model: 'stories260K', kind: 'send' }],
  ]);
  expect(await trpc(again, 'query', 'audit.verify')).toMatchObject({ ok: true });

  // The user asks for the reply again.
  const userMessage = conversation.messages.find((m: { role: string }) => m.role === 'user');
  await readyEngine();
  expect(await ending(chat(again, { conversationId: second, regenerateFrom: userMessage.id, maxTokens: 16 }))).toBe('done');
  expect(await product.stop()).toBe(0);
  product = undefined;
}, 900_000);
