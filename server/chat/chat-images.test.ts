import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { parseEnv } from '../core/env';
import { closeRedis } from '../core/redis';
import { messageAttachments, messages } from '../db/schema';
import { startGatewayServer, type GatewayServer } from '../gateway/server';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { makeDeployment } from '../testing/factories';
import { dataUrl, makePng } from '../testing/media-fixtures';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';

/**
 * Images in the browser's chat (issue 16, part 5): sent with the message to a vision deployment as image
 * parts, stored sealed (message_attachments) and listed with the thread; a deployment without vision
 * refuses before anything is stored, saying which deployment and what to do.
 */
process.env.REDIS_PREFIX = testRedisPrefix('chatimg');

let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let engine: OpenAIDouble;
let gateway: GatewayServer;
const masterKey = randomBytes(32);

beforeAll(async () => {
  t = await createTestDatabase('chatimg');
  engine = await startOpenAIDouble({ tokens: 3, firstTokenMs: 1, interTokenMs: 1 });
  await makeDeployment(t.db, { name: 'seeing', engine: 'vllm', vision: true }, [engine.url]);
  await makeDeployment(t.db, { name: 'text-only', engine: 'vllm' }, [engine.url]);
  // A vision model with a small declared context: an image's tokens decide what fits.
  await makeDeployment(t.db, { name: 'small-seeing', engine: 'vllm', vision: true, spec: { engine: 'vllm', maxModelLen: 1600 } }, [engine.url]);
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

it('an image goes to a vision deployment with its message, is stored sealed and comes back with the thread', async () => {
  const alice = await api.userSession('user');
  const conversationId = (await api.trpc('mutation', 'conversations.create', {}, alice.cookie)).data.id as string;
  const png = makePng(32, 24);
  const url = dataUrl('image/png', png);
  engine.clear();
  const sent = await api.stream('chat.send', { conversationId, model: 'seeing', parentId: null, content: 'What colour is this?', images: [url] }, { cookie: alice.cookie });
  expect(sent.status).toBe(200);
  const got = engine.requests[0]!.body as { messages: { role: string; content: unknown }[] };
  expect(got.messages.at(-1)).toEqual({ role: 'user', content: [{ type: 'text', text: 'What colour is this?' }, { type: 'image_url', image_url: { url } }] });
  // Sealed: the row holds neither the base64 nor the PNG's bytes; its size and pixels are in clear.
  const rows = await t.db.select().from(messageAttachments);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ position: 0, mediaType: 'image/png', bytes: png.length, width: 32, height: 24 });
  expect(rows[0]!.contentEnc.includes(Buffer.from(url.slice(22, 60)))).toBe(false);
  expect(rows[0]!.contentEnc.includes(png.subarray(16, 24))).toBe(false);
  // The thread lists it with its message; the next turn sends the earlier image again (the model's history).
  const listed = (await api.trpc('query', 'conversations.get', { id: conversationId }, alice.cookie)).data as { messages: { role: string; images?: string[] }[] };
  expect(listed.messages.find((m) => m.role === 'user')!.images).toEqual([url]);
  engine.clear();
  const reply = (listed.messages as { id: string; role: string }[]).find((m) => m.role === 'assistant')!;
  const next = await api.stream('chat.send', { conversationId, model: 'seeing', parentId: reply.id, content: 'And the size?' }, { cookie: alice.cookie });
  expect(next.status).toBe(200);
  const history = (engine.requests[0]!.body as { messages: { role: string; content: unknown }[] }).messages;
  expect(history.find((m) => m.role === 'user')!.content).toEqual([{ type: 'text', text: 'What colour is this?' }, { type: 'image_url', image_url: { url } }]);
  expect(history.at(-1)).toEqual({ role: 'user', content: 'And the size?' });
});

it('a deployment without vision refuses an image before anything is stored, naming it', async () => {
  const bob = await api.userSession('user');
  const conversationId = (await api.trpc('mutation', 'conversations.create', {}, bob.cookie)).data.id as string;
  engine.clear();
  const refused = await api.stream('chat.send', { conversationId, model: 'text-only', parentId: null, content: 'Look', images: [dataUrl('image/png', makePng(4, 4))] }, { cookie: bob.cookie });
  expect(refused.status).toBe(400);
  expect(refused.error?.message).toContain("The deployment 'text-only' does not take images");
  expect(engine.requests).toHaveLength(0);
  expect(await t.db.select().from(messages).where(eq(messages.conversationId, conversationId))).toHaveLength(0);
  // A bad image is refused by the web role itself, naming the field.
  const bad = await api.stream('chat.send', { conversationId, model: 'seeing', parentId: null, content: 'Look', images: ['data:image/png;base64,aGVsbG8='] }, { cookie: bob.cookie });
  expect(bad.status).toBe(400);
  expect(bad.error?.message).toMatch(/^images\[0\]: The image data is not a PNG, JPEG, WebP or GIF image/);
  const remote = await api.stream('chat.send', { conversationId, model: 'seeing', parentId: null, content: 'Look', images: ['https://example.com/a.png'] }, { cookie: bob.cookie });
  expect(remote.status).toBe(400);
  expect(engine.requests).toHaveLength(0);
});

type Listed = { messages: { id: string; parentId: string | null; role: string; content: string; images?: string[] }[] };

it('editing and regenerating keep the images: an edit sends the images it kept, a regenerate the stored ones', async () => {
  const carol = await api.userSession('user');
  const conversationId = (await api.trpc('mutation', 'conversations.create', {}, carol.cookie)).data.id as string;
  const red = dataUrl('image/png', makePng(16, 16, [255, 0, 0]));
  const blue = dataUrl('image/png', makePng(16, 16, [0, 0, 255]));
  expect((await api.stream('chat.send', { conversationId, model: 'seeing', parentId: null, content: 'Compare these', images: [red, blue] }, { cookie: carol.cookie })).status).toBe(200);
  const first = ((await api.trpc('query', 'conversations.get', { id: conversationId }, carol.cookie)).data as Listed).messages.find((m) => m.role === 'user')!;
  // Regenerate: the stored images go to the model again.
  engine.clear();
  expect((await api.stream('chat.send', { conversationId, model: 'seeing', regenerateFrom: first.id }, { cookie: carol.cookie })).status).toBe(200);
  const again = (engine.requests[0]!.body as { messages: { content: unknown }[] }).messages.at(-1)!.content;
  expect(again).toEqual([{ type: 'text', text: 'Compare these' }, { type: 'image_url', image_url: { url: red } }, { type: 'image_url', image_url: { url: blue } }]);
  // Edit (a sibling of the first message): the composer sends the images it kept, here one of two.
  engine.clear();
  expect((await api.stream('chat.send', { conversationId, model: 'seeing', parentId: null, content: 'Describe this one', images: [blue] }, { cookie: carol.cookie })).status).toBe(200);
  expect((engine.requests[0]!.body as { messages: { content: unknown }[] }).messages.at(-1)!.content).toEqual([{ type: 'text', text: 'Describe this one' }, { type: 'image_url', image_url: { url: blue } }]);
  const all = ((await api.trpc('query', 'conversations.get', { id: conversationId }, carol.cookie)).data as Listed).messages.filter((m) => m.role === 'user');
  expect(all.map((m) => [m.parentId, m.content, m.images])).toEqual([
    [null, 'Compare these', [red, blue]],
    [null, 'Describe this one', [blue]],
  ]);

  // Exports keep them: JSON as data: URLs on every branch's message, Markdown embedded on the latest branch.
  const json = (await (await api.request(`/api/conversations/${conversationId}/export?format=json`, { cookie: carol.cookie })).json()) as Listed;
  expect(json.messages.filter((m) => m.role === 'user').map((m) => m.images)).toEqual([[red, blue], [blue]]);
  const md = await (await api.request(`/api/conversations/${conversationId}/export?format=md`, { cookie: carol.cookie })).text();
  expect(md).toContain(`![image 1 (image/png, 1 KiB)](${blue})\n\nDescribe this one`);
  expect(md).not.toContain(red);
});

it('a summary marks the images it stands for, and fitting counts an image at the gateway estimate', async () => {
  const dave = await api.userSession('user');
  const conversationId = (await api.trpc('mutation', 'conversations.create', {}, dave.cookie)).data.id as string;
  // 1024×1024: 765 tokens at the gateway's estimate, whatever its few bytes of PNG.
  const big = dataUrl('image/png', makePng(1024, 1024));
  const firstTurn = await api.stream('chat.send', { conversationId, model: 'small-seeing', parentId: null, content: 'What colour is this?', images: [big], maxTokens: 16 }, { cookie: dave.cookie });
  expect(firstTurn.status, firstTurn.error?.message).toBe(200);
  const reply = firstTurn.events[0]!.data.assistantMessageId as string;
  // About 800 tokens of text: with the image's 765 more than the 1600-token context holds, without it far less.
  engine.clear();
  const second = await api.stream('chat.send', { conversationId, model: 'small-seeing', parentId: reply, content: 'x '.repeat(1200), maxTokens: 16 }, { cookie: dave.cookie });
  expect(second.status, second.error?.message).toBe(200);
  const bodies = engine.requests.map((r) => JSON.stringify(r.body));
  const summaryRequest = bodies.find((b) => b.includes('Summarise the conversation'));
  expect(summaryRequest).toBeDefined();
  expect(summaryRequest).toContain('User: [image] What colour is this?');
  expect(summaryRequest).not.toContain('base64');
  // The turn itself went without the summarised image.
  expect(bodies.at(-1)).not.toContain('image_url');
});
