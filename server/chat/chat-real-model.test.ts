import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { TEST_MODEL_PATH } from '../engines/llamacpp/test-support';
import { parseEnv } from '../env';
import { startGatewayServer, type GatewayServer } from '../gateway/server';
import { startLlamaCppEngine, type StartedLlamaCppEngine } from '../runtime/llamacpp';
import { makeDeployment } from '../testing/factories';
import { createTestDatabase, type TestDatabase } from '../testing/database';

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

async function readSse(res: Response, stopAfterDeltas?: number, aborter?: AbortController) {
  const events: { event: string; data: any }[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
      }
      if (stopAfterDeltas && events.filter((e) => e.event === 'delta').length >= stopAfterDeltas) {
        aborter!.abort();
        break;
      }
    }
  } catch (e) {
    if (!aborter?.signal.aborted) throw e;
  }
  return events;
}

describe('chat through the real gateway and model', () => {
  it('streams a reply from stories260K in pieces and keeps it encrypted in the history', async () => {
    const { cookie } = await api.userSession('user');
    const { data } = await api.trpc('mutation', 'conversations.create', {}, cookie);
    const res = await api.request('/api/chat', { method: 'POST', cookie, body: JSON.stringify({ conversationId: data.id, model: 'stories260K', parentId: null, content: 'Once upon a time', maxTokens: 32 }) });
    expect(res.status).toBe(200);
    const events = await readSse(res);
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
    const aborter = new AbortController();
    const res = await api.request('/api/chat', {
      method: 'POST',
      cookie,
      signal: aborter.signal,
      body: JSON.stringify({ conversationId: data.id, model: 'stories260K', parentId: null, content: 'Once upon a time', maxTokens: 4096, temperature: 1 }),
    });
    const events = await readSse(res, 3, aborter);
    const assistantId = events[0]!.data.assistantMessageId;
    let saved: any;
    for (let i = 0; i < 100 && !saved; i++) {
      saved = (await api.trpc('query', 'conversations.get', { id: data.id }, cookie)).data.messages.find((m: { id: string }) => m.id === assistantId);
      if (!saved) await new Promise((r) => setTimeout(r, 50));
    }
    expect(saved.metadata.stopped).toBe(true);
    expect(saved.content.length).toBeGreaterThan(0);
  });

  it("passes the gateway's refusal through when the user's role may not use the model", async () => {
    const { cookie } = await api.userSession('user');
    const { data } = await api.trpc('mutation', 'conversations.create', {}, cookie);
    const res = await api.request('/api/chat', { method: 'POST', cookie, body: JSON.stringify({ conversationId: data.id, model: 'engineers-only', parentId: null, content: 'hello' }) });
    const body = (await res.json()) as { error: { message: string } };
    expect(res.status).toBe(403);
    expect(body.error.message).toMatch(/engineers-only/);
    const missing = await api.request('/api/chat', { method: 'POST', cookie, body: JSON.stringify({ conversationId: data.id, model: 'no-such-model', parentId: null, content: 'hello' }) });
    expect(missing.status).toBe(404);
    expect((await api.trpc('query', 'conversations.get', { id: data.id }, cookie)).data.messages).toEqual([]);
  });
});
