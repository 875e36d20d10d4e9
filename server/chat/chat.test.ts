import { randomBytes } from 'node:crypto';
import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { auditLog, messages } from '../db/schema';
import { internalToken } from '../security/master-key';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';

let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let gateway: OpenAIDouble;
let alice: Awaited<ReturnType<typeof api.userSession>>;
const masterKey = randomBytes(32);

beforeAll(async () => {
  t = await createTestDatabase('chat');
  // The gateway as the web role calls it (its internal token), answering "w0 w1 ..." up to max_tokens,
  // with the gateway's refusals and a stream that breaks, by model name.
  gateway = await startOpenAIDouble({
    apiKey: internalToken(masterKey),
    tokens: 100_000,
    token: (i) => `w${i} `,
    firstTokenMs: 2,
    interTokenMs: 2,
    models: {
      unknown: { failure: { status: 404, message: "The model 'unknown' does not exist", type: 'invalid_request_error' } },
      forbidden: { failure: { status: 403, message: "You may not use the model 'forbidden'", type: 'permission_error' } },
      'fails-midway': { failure: { errorAfterTokens: 2, message: 'The engine went away' } },
      slow: { firstTokenMs: 25, interTokenMs: 25 }, // time to press stop
    },
  });
  api = await startApiTestServer({ db: t.db, masterKey, gatewayUrl: gateway.url });
  alice = await api.userSession('user');
});
afterAll(async () => {
  await api?.close();
  await gateway?.close();
  await t?.drop();
});

/** chat.send like the browser does; `stopAfterDeltas` aborts the call as the stop button does. */
const chat = (body: unknown, { cookie = alice.cookie, stopAfterDeltas }: { cookie?: string; stopAfterDeltas?: number } = {}) =>
  api.stream('chat.send', body, { cookie, stopAfterDeltas });

const newConversation = async (cookie = alice.cookie) => (await api.trpc('mutation', 'conversations.create', {}, cookie)).data.id as string;
const getConversation = async (id: string) => (await api.trpc('query', 'conversations.get', { id }, alice.cookie)).data;
const messageCount = async () => (await t.db.select({ n: count() }).from(messages))[0]!.n;

describe('chat.send', () => {
  it('streams deltas in order, then saves both messages encrypted with metadata and titles the conversation', async () => {
    const conversationId = await newConversation();
    const { status, events } = await chat({ conversationId, model: 'tiny', parentId: null, content: 'Tell me a story about a cat', maxTokens: 5, temperature: 0.3 });
    expect(status).toBe(200);
    expect(events.map((e) => e.event)).toEqual(['meta', 'delta', 'delta', 'delta', 'delta', 'delta', 'done']);
    const meta = events[0]!.data;
    expect(meta.parentId).toBe(meta.userMessageId);
    expect(events.filter((e) => e.event === 'delta').map((e) => e.data.text)).toEqual(['w0 ', 'w1 ', 'w2 ', 'w3 ', 'w4 ']);
    expect(events.at(-1)!.data).toEqual({ finishReason: 'length', usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 }, stopped: false });

    const sent = gateway.requests.at(-1)!;
    expect(sent.headers['x-enclave-user-id']).toBe(alice.user.id);
    expect(sent.body).toMatchObject({
      model: 'tiny',
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 5,
      temperature: 0.3,
      messages: [{ role: 'user', content: 'Tell me a story about a cat' }],
    });

    const conversation = await getConversation(conversationId);
    expect(conversation.title).toBe('Tell me a story about a cat');
    expect(conversation.model).toBe('tiny');
    const [user, assistant] = conversation.messages;
    expect(user).toMatchObject({ id: meta.userMessageId, parentId: null, role: 'user', content: 'Tell me a story about a cat' });
    expect(assistant).toMatchObject({ id: meta.assistantMessageId, parentId: meta.userMessageId, role: 'assistant', content: 'w0 w1 w2 w3 w4 ', model: 'tiny' });
    expect(assistant.metadata).toMatchObject({ finishReason: 'length', stopped: false, usage: { completion_tokens: 5 } });
    expect(assistant.metadata.ttftMs).toBeGreaterThan(0);
    const raw = await t.db.select().from(messages).where(eq(messages.id, meta.assistantMessageId));
    expect(raw[0]!.contentEnc.toString('utf8')).not.toContain('w0 w1');

    const audit = await t.db.select().from(auditLog).where(eq(auditLog.action, 'chat.send'));
    expect(audit.map((r) => [r.target, r.outcome, r.actorUserId])).toContainEqual([conversationId, 'success', alice.user.id]);
    expect(JSON.stringify(audit)).not.toContain('story about a cat');
  });

  it('saves the partial reply marked stopped when the client stops, and aborts the upstream stream', async () => {
    const conversationId = await newConversation();
    const closedBefore = gateway.abandoned;
    const { events } = await chat({ conversationId, model: 'slow', parentId: null, content: 'Go on for a while', maxTokens: 200 }, { stopAfterDeltas: 3 });
    const assistantId = events[0]!.data.assistantMessageId;
    // The reply exists from its first moment (metadata.streaming) and is final once the server saw the stop.
    const saved = await until('the stopped reply to be final', async () =>
      (await getConversation(conversationId)).messages.find((m: { id: string; metadata: { streaming?: boolean } }) => m.id === assistantId && !m.metadata.streaming),
    );
    expect(saved.metadata.stopped).toBe(true);
    expect(saved.content.startsWith('w0 w1 w2 ')).toBe(true);
    expect(saved.content.split(' ').length).toBeLessThan(50);
    expect(gateway.abandoned).toBe(closedBefore + 1);
  });

  it('edits by sending a sibling of the edited message, keeping the earlier branch, and follows the branch for context', async () => {
    const conversationId = await newConversation();
    const first = await chat({ conversationId, model: 'tiny', parentId: null, content: 'first version', maxTokens: 2 });
    const edited = await chat({ conversationId, model: 'tiny', parentId: null, content: 'edited version', maxTokens: 2 });
    expect(gateway.requests.at(-1)!.body!.messages).toEqual([{ role: 'user', content: 'edited version' }]);
    const followUp = await chat({ conversationId, model: 'tiny', parentId: edited.events[0]!.data.assistantMessageId, content: 'and then?', maxTokens: 2 });
    expect(followUp.status).toBe(200);
    expect(gateway.requests.at(-1)!.body!.messages).toEqual([
      { role: 'user', content: 'edited version' },
      { role: 'assistant', content: 'w0 w1 ' },
      { role: 'user', content: 'and then?' },
    ]);
    const all = (await getConversation(conversationId)).messages as { id: string; parentId: string | null; role: string; content: string }[];
    expect(all.filter((m) => m.parentId === null).map((m) => m.content)).toEqual(['first version', 'edited version']);
    expect(all.find((m) => m.id === first.events[0]!.data.assistantMessageId)?.parentId).toBe(first.events[0]!.data.userMessageId);
    expect(all).toHaveLength(6);
    // The title came from the first message and stays.
    expect((await getConversation(conversationId)).title).toBe('first version');
  });

  it('regenerates a new assistant sibling under the same user message', async () => {
    const conversationId = await newConversation();
    const original = await chat({ conversationId, model: 'tiny', parentId: null, content: 'answer twice', maxTokens: 3 });
    const userMessageId = original.events[0]!.data.userMessageId;
    const again = await chat({ conversationId, model: 'tiny', regenerateFrom: userMessageId, maxTokens: 2 });
    expect(again.events[0]!.data).toEqual({ assistantMessageId: expect.any(String), parentId: userMessageId });
    expect(gateway.requests.at(-1)!.body!.messages).toEqual([{ role: 'user', content: 'answer twice' }]);
    const all = (await getConversation(conversationId)).messages as { parentId: string | null; role: string; content: string }[];
    expect(all.filter((m) => m.parentId === userMessageId).map((m) => m.content)).toEqual(['w0 w1 w2 ', 'w0 w1 ']);
    expect(all.filter((m) => m.role === 'user')).toHaveLength(1);
    const bad = await chat({ conversationId, model: 'tiny', regenerateFrom: original.events[0]!.data.assistantMessageId });
    expect([bad.status, bad.error?.message]).toEqual([400, 'regenerateFrom must be a user message']);
  });

  it('refuses bad input with a clear 4xx and writes nothing', async () => {
    const conversationId = await newConversation();
    const bob = await api.userSession('user');
    const bobConversation = await newConversation(bob.cookie);
    const before = await messageCount();
    const cases: [body: unknown, status: number, message: RegExp][] = [
      ['not an object', 400, /must be a JSON object/],
      [{ conversationId, model: 'tiny', parentId: null, content: '' }, 400, /content cannot be empty/],
      [{ conversationId, model: 'tiny', parentId: null, content: 'x'.repeat(32_001) }, 400, /at most 32000 characters/],
      [{ conversationId: 'abc', model: 'tiny', parentId: null, content: 'hi' }, 400, /conversationId must be a uuid/],
      [{ conversationId, model: 'tiny', parentId: null, content: 'hi', maxTokens: 5000 }, 400, /maxTokens must be between 1 and 4096/],
      [{ conversationId, model: 'tiny', parentId: null, content: 'hi', temperature: -1 }, 400, /temperature must be between 0 and 2/],
      [{ conversationId, model: 'tiny', content: 'hi' }, 400, /parentId is required/],
      [{ conversationId, model: 'tiny', parentId: null, content: 'hi', role: 'system' }, 400, /Unknown field\(s\): role/],
      [{ conversationId: bobConversation, model: 'tiny', parentId: null, content: 'hi' }, 404, /Conversation not found/],
      [{ conversationId, model: 'tiny', parentId: '00000000-0000-4000-8000-000000000000', content: 'hi' }, 404, /Message not found/],
      [{ conversationId, model: 'unknown', parentId: null, content: 'hi' }, 404, /The model 'unknown' does not exist/],
      [{ conversationId, model: 'forbidden', parentId: null, content: 'hi' }, 403, /may not use the model 'forbidden'/],
    ];
    for (const [body, status, message] of cases) {
      const res = await chat(body);
      expect([res.status, res.error?.message]).toEqual([status, expect.stringMatching(message)]);
    }
    expect((await chat({ conversationId, model: 'tiny', parentId: null, content: 'hi' }, { cookie: 'enclave_session=nope' })).status).toBe(401);
    // Bodies are capped (32,000 characters of up to 4 bytes, a message's images, and the rest: routers/chat.ts).
    const big = await api.request('/api/trpc/chat.send?batch=1', { method: 'POST', cookie: alice.cookie, body: JSON.stringify({ 0: { conversationId, content: 'x'.repeat(1000 * 1024) } }) });
    expect(big.status).toBe(413);
    const notJson = await api.request('/api/trpc/chat.send?batch=1', { method: 'POST', cookie: alice.cookie, body: '{not json', headers: { 'trpc-accept': 'application/jsonl' } });
    // A streamed answer has begun (200) before the body is parsed: the refusal is its first item.
    expect(await notJson.text()).toMatch(/"message":"[^"]*JSON[^"]*","code":-32600,"data":\{"code":"BAD_REQUEST","httpStatus":400/);
    expect(await messageCount()).toBe(before);
    expect((await getConversation(conversationId)).messages).toEqual([]);
  });

  it('ends a stream that fails midway with an error event and a reply marked failed, never a lone user message', async () => {
    const conversationId = await newConversation();
    const { status, events } = await chat({ conversationId, model: 'fails-midway', parentId: null, content: 'this will break', maxTokens: 10 });
    expect(status).toBe(200);
    expect(events.map((e) => e.event)).toEqual(['meta', 'delta', 'delta', 'error']);
    expect(events.at(-1)!.data).toEqual({ message: 'The engine went away', status: 502 });
    const [user, assistant] = (await getConversation(conversationId)).messages;
    expect(user.content).toBe('this will break');
    expect(assistant).toMatchObject({ parentId: user.id, content: 'w0 w1 ', metadata: { failed: true, error: 'The engine went away', stopped: false } });
  });

  it('exports all branches as JSON and the latest branch as Markdown', async () => {
    const conversationId = await newConversation();
    await chat({ conversationId, model: 'tiny', parentId: null, content: 'old branch', maxTokens: 1 });
    await chat({ conversationId, model: 'tiny', parentId: null, content: 'new branch', maxTokens: 1 });
    const json = await (await api.request(`/api/conversations/${conversationId}/export?format=json`, { cookie: alice.cookie })).json();
    expect(json.messages.map((m: { content: string }) => m.content)).toEqual(['old branch', 'w0 ', 'new branch', 'w0 ']);
    const res = await api.request(`/api/conversations/${conversationId}/export?format=md`, { cookie: alice.cookie });
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="old-branch\.md"/);
    const md = await res.text();
    expect(md).toContain('## User\n\nnew branch');
    expect(md).not.toContain('## User\n\nold branch');
    expect((await api.request(`/api/conversations/${conversationId}/export?format=pdf`, { cookie: alice.cookie })).status).toBe(400);
  });
});
