import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../../api/testing/api-test-server';
import { parseEnv } from '../../core/env';
import { startLlamaCppEngine, type StartedLlamaCppEngine } from '../../engines/llamacpp/process';
import { TEST_MODEL_PATH } from '../../engines/llamacpp/test-support';
import { startGatewayServer, type GatewayServer } from '../../gateway/server';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeDeployment } from '../../testing/factories';

/**
 * A conversation that outgrows the model's context keeps going: the real gateway and a real stories260K
 * engine with a 256-token context. One deployment declares its context (spec.llamacpp.context), the
 * other does not, so the chat learns it from the engine's refusal.
 */
let t: TestDatabase;
let engine: StartedLlamaCppEngine;
let undeclared: StartedLlamaCppEngine;
let gateway: GatewayServer;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
const masterKey = randomBytes(32);
const LINE = 'Once upon a time there was a little dog who liked to run in the park with all of his friends.';

beforeAll(async () => {
  t = await createTestDatabase('chatctx');
  [engine, undeclared] = await Promise.all(
    ['stories260K', 'undeclared'].map((name) => startLlamaCppEngine({ name, modelPath: TEST_MODEL_PATH, threads: 1, context: 256, sequences: 2 })),
  );
  await makeDeployment(t.db, { name: 'stories260K', spec: { engine: 'llamacpp', llamacpp: { context: 256 } } }, [engine.url]);
  await makeDeployment(t.db, { name: 'undeclared' }, [undeclared.url]);
  gateway = await startGatewayServer({ port: 0, host: '127.0.0.1', db: t.db, env: parseEnv({ ENCLAVE_DATA_DIR: '/tmp/enclave-chat-ctx-test' }), masterKey, routingRefreshMs: 200, logFlushMs: 50 });
  await gateway.refresh();
  api = await startApiTestServer({ db: t.db, masterKey, gatewayUrl: gateway.url });
}, 120_000);
afterAll(async () => {
  await api?.close();
  await gateway?.close();
  await engine?.stop();
  await undeclared?.stop();
  await t?.drop();
});

type Msg = { id: string; role: string; content: string; metadata: { context?: { policy: string; omitted: number; summarized: boolean }; failed?: boolean } };

let lastMeta: Record<string, unknown> = {};

/** Sends `turns` messages in a row, each answering the last reply; every one must be answered. */
async function converse(cookie: string, conversationId: string, model: string, turns: number) {
  let parentId: string | null = null;
  for (let i = 0; i < turns; i++) {
    const res = await api.stream('chat.send', { conversationId, model, parentId, content: `${i}: ${LINE}`, maxTokens: 12, temperature: 0 }, { cookie });
    expect(res.status, `turn ${i}: ${res.error?.message}`).toBe(200);
    expect(res.events.at(-1)!.event, `turn ${i}`).toBe('done');
    parentId = res.events[0]!.data.assistantMessageId;
    lastMeta = res.events[0]!.data;
  }
  const conversation = (await api.trpc('query', 'conversations.get', { id: conversationId }, cookie)).data;
  return conversation as { messages: Msg[]; summaries: { throughMessageId: string; covered: number; text: string }[]; context: { policy: string; turns: number | null } };
}

describe('a conversation longer than the context', () => {
  it('summarises older turns with the model itself (encrypted), and keeps answering', async () => {
    const { cookie } = await api.userSession('user');
    const { data } = await api.trpc('mutation', 'conversations.create', {}, cookie);
    const conversation = await converse(cookie, data.id, 'stories260K', 8);
    expect(conversation.context).toEqual({ policy: 'summarize', turns: null });
    const replies = conversation.messages.filter((m) => m.role === 'assistant');
    expect(replies).toHaveLength(8);
    expect(replies.every((m) => !m.metadata.failed)).toBe(true);
    // The later replies were answered from a summary plus the latest turns.
    const fitted = replies.filter((m) => m.metadata.context);
    expect(fitted.length).toBeGreaterThan(0);
    expect(fitted.at(-1)!.metadata.context).toMatchObject({ policy: 'summarize', summarized: true });
    expect(conversation.summaries.length).toBeGreaterThan(0);
    const ids = conversation.messages.map((m) => m.id);
    for (const s of conversation.summaries) {
      expect(ids).toContain(s.throughMessageId);
      expect(s.text.length).toBeGreaterThan(0);
    }
    // Stored sealed: the database holds no summary text in the clear.
    const raw = await t.db.execute<{ content_enc: Buffer }>(sql`SELECT content_enc FROM conversation_summaries WHERE conversation_id = ${data.id}`);
    expect(raw.rows.length).toBe(conversation.summaries.length);
    for (const r of raw.rows) expect(r.content_enc.toString('utf8')).not.toContain(conversation.summaries[0]!.text.slice(0, 12));
  }, 240_000);

  it("'trim' leaves older turns out without summarising; 'turns' sends only the last N", async () => {
    const { cookie } = await api.userSession('user');
    const trimmed = (await api.trpc('mutation', 'conversations.create', {}, cookie)).data.id;
    expect((await api.trpc('mutation', 'conversations.setContext', { id: trimmed, policy: 'trim' }, cookie)).status).toBe(200);
    const a = await converse(cookie, trimmed, 'stories260K', 7);
    expect(a.summaries).toEqual([]);
    expect(a.messages.filter((m) => m.role === 'assistant').at(-1)!.metadata.context).toMatchObject({ policy: 'trim', summarized: false });

    const limited = (await api.trpc('mutation', 'conversations.create', {}, cookie)).data.id;
    await api.trpc('mutation', 'conversations.setContext', { id: limited, policy: 'turns', turns: 1 }, cookie);
    const b = await converse(cookie, limited, 'stories260K', 3);
    // The stream's first event says so too, for the browser to mark the reply while it streams.
    expect(lastMeta).toMatchObject({ context: { policy: 'turns', omitted: 4, summarized: false, newSummary: false } });
    // With one turn sent, the third reply saw only its own question: the four messages before it were left out.
    expect(b.messages.filter((m) => m.role === 'assistant').at(-1)!.metadata.context).toEqual({ policy: 'turns', omitted: 4, summarized: false });
    expect(b.context).toEqual({ policy: 'turns', turns: 1 });

    for (const bad of [{ id: limited, policy: 'turns', turns: 0 }, { id: limited, policy: 'turns' }, { id: limited, policy: 'forget' }]) {
      const res = await api.trpc('mutation', 'conversations.setContext', bad, cookie);
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
  }, 240_000);

  it('learns an undeclared context from the engine’s refusal, and keeps going', async () => {
    const { cookie } = await api.userSession('user');
    const { data } = await api.trpc('mutation', 'conversations.create', {}, cookie);
    await api.trpc('mutation', 'conversations.setContext', { id: data.id, policy: 'trim' }, cookie);
    const conversation = await converse(cookie, data.id, 'undeclared', 7);
    expect(conversation.messages.filter((m) => m.role === 'assistant').at(-1)!.metadata.context).toMatchObject({ policy: 'trim' });
  }, 240_000);

  it('a message that cannot fit on its own is refused with what to do, and nothing is saved', async () => {
    const { cookie } = await api.userSession('user');
    const { data } = await api.trpc('mutation', 'conversations.create', {}, cookie);
    const res = await api.stream('chat.send', { conversationId: data.id, model: 'stories260K', parentId: null, content: LINE.repeat(12), maxTokens: 12 }, { cookie });
    expect(res.status).toBe(400);
    expect(res.error?.message).toMatch(/Shorten the message, lower Max tokens in the settings, or choose a model with a longer context/);
    expect((await api.trpc('query', 'conversations.get', { id: data.id }, cookie)).data.messages).toEqual([]);
  });
});
