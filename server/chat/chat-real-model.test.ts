import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { TEST_MODEL_PATH } from '../engines/llamacpp/test-support';
import { parseEnv } from '../core/env';
import { startGatewayServer, type GatewayServer } from '../gateway/server';
import { startLlamaCppEngine, type StartedLlamaCppEngine } from '../engines/llamacpp/process';
import { makeDeployment } from '../testing/factories';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { until } from '../testing/until';

/**
 * The chat backend end to end with nothing doubled: the real gateway (authenticating the web role's
 * internal token and the user's role) in front of a real llama.cpp engine running stories260K.
 * Asserts mechanics only: the model writes children's stories, not answers.
 */
let t: TestDatabase;
let engine: StartedLlamaCppEngine;
let gateway: GatewayServer;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
const masterKey = randomBytes(32);

beforeAll(async () => {
  t = await createTestDatabase('chatreal');
  engine = await startLlamaCppEngine({ name: 'stories260K', modelPath: TEST_MODEL_PATH, threads: 1, context: 2048, sequences: 2 });
  await makeDeployment(t.db, { name: 'stories260K' }, [engine.url]);
  await makeDeployment(t.db, { name: 'engineers-only', allowedRoles: ['engineer'] }, [engine.url]);
  gateway = await startGatewayServer({ port: 0, host: '127.0.0.1', db: t.db, env: parseEnv({ ENCLAVE_DATA_DIR: '/tmp/enclave-chat-real-test' }), masterKey, routingRefreshMs: 200, logFlushMs: 50 });
  await gateway.refresh();
  api = await startApiTestServer({ db: t.db, masterKey, gatewayUrl: gateway.url });
});
afterAll(async () => {
  await api?.close();
  await gateway?.close();
  await engine?.stop();
  await t?.drop();
});

describe('chat through the real gateway and model', () => {
  it('streams a reply from stories260K in pieces and keeps it encrypted in the history', async () => {
    const { cookie } = await api.userSession('user');
    const { data } = await api.trpc('mutation', 'conversations.create', {}, cookie);
    const res = await api.stream('chat.send', { conversationId: data.id, model: 'stories260K', parentId: null, content: 'Once upon a time', maxTokens: 32 }, { cookie });
    expect(res.status).toBe(200);
    const events = res.events;
    const deltas = events.filter((e) => e.event === 'delta');
    expect(events[0]!.event).toBe('meta');
    expect(deltas.length).toBeGreaterThan(1);
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    expect(done.data.usage.completion_tokens).toBeGreaterThan(0);
    expect(done.data.usage.completion_tokens).toBeLessThanOrEqual(32);
    const conversation = (await api.trpc('query', 'conversations.get', { id: data.id }, cookie)).data;
    expect(conversation.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant']);
    expect(conversation.messages[1].content).toBe(deltas.map((d) => d.data.text).join(''));
    expect(conversation.messages[1].metadata.ttftMs).toBeGreaterThan(0);
  });

  it('stops the real generation when the client goes away and keeps the partial text', async () => {
    const { cookie } = await api.userSession('user');
    const { data } = await api.trpc('mutation', 'conversations.create', {}, cookie);
    const { events } = await api.stream(
      'chat.send',
      { conversationId: data.id, model: 'stories260K', parentId: null, content: 'Once upon a time', maxTokens: 4096, temperature: 1 },
      { cookie, stopAfterDeltas: 3 },
    );
    const assistantId = events[0]!.data.assistantMessageId;
    // The reply exists from its first moment (metadata.streaming) and is final once the server saw the stop.
    const saved = await until('the stopped reply to be final', async () =>
      (await api.trpc('query', 'conversations.get', { id: data.id }, cookie)).data.messages.find((m: { id: string; metadata: { streaming?: boolean } }) => m.id === assistantId && !m.metadata.streaming),
    );
    expect(saved.metadata.stopped).toBe(true);
    expect(saved.content.length).toBeGreaterThan(0);
  });

  it("passes the gateway's refusal through when the user's role may not use the model", async () => {
    const { cookie } = await api.userSession('user');
    const { data } = await api.trpc('mutation', 'conversations.create', {}, cookie);
    const res = await api.stream('chat.send', { conversationId: data.id, model: 'engineers-only', parentId: null, content: 'hello' }, { cookie });
    expect(res.status).toBe(403);
    expect(res.error?.message).toMatch(/engineers-only/);
    const missing = await api.stream('chat.send', { conversationId: data.id, model: 'no-such-model', parentId: null, content: 'hello' }, { cookie });
    expect(missing.status).toBe(404);
    expect((await api.trpc('query', 'conversations.get', { id: data.id }, cookie)).data.messages).toEqual([]);
  });
});
