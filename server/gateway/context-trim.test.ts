import { afterAll, beforeAll, expect, test } from 'vitest';
import { makeDeployment } from '../testing/factories';
import { dataUrl, makePng } from '../testing/media-fixtures';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { startGatewayHarness, type GatewayHarness } from './testing/harness';

// x-enclave-context: trim on /v1: fitted only when the caller asks, to the context the deployment declares.
let h: GatewayHarness;
let engine: OpenAIDouble;
let small: string;
let unknown: string;
const line = (i: number) => `${i} `.padEnd(300, 'x'); // about 100 tokens each by the gateway's estimate
const history = [
  { role: 'system', content: 'Be brief.' },
  ...Array.from({ length: 10 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: line(i) })),
  { role: 'user', content: 'And now?' },
];

beforeAll(async () => {
  [engine, h] = await Promise.all([startOpenAIDouble({ tokens: 2 }), startGatewayHarness('gwctx')]);
  small = (await makeDeployment(h.t.db, { engine: 'vllm', spec: { engine: 'vllm', maxModelLen: 600 } }, [engine.url])).deployment.name;
  unknown = (await makeDeployment(h.t.db, { engine: 'vllm' }, [engine.url])).deployment.name;
  await h.gateway.refresh();
});
afterAll(async () => {
  await h?.close();
  await engine?.close();
});

const sentMessages = () => (engine.requests.at(-1)!.body as { messages: { role: string; content: string }[] }).messages;

test('without the header nothing is dropped, however long', async () => {
  const { key } = await h.keyFor();
  const res = await h.post('/v1/chat/completions', { model: small, messages: history, max_tokens: 50 }, key);
  expect(res.status).toBe(200);
  expect(res.headers.get('x-enclave-context-dropped')).toBeNull();
  expect(sentMessages()).toHaveLength(history.length);
});

test('with x-enclave-context: trim the system prompt and the latest turns are kept, the oldest dropped', async () => {
  const { key } = await h.keyFor();
  const res = await h.post('/v1/chat/completions', { model: small, messages: history, max_tokens: 50 }, key, { 'x-enclave-context': 'trim' });
  expect(res.status).toBe(200);
  const dropped = Number(res.headers.get('x-enclave-context-dropped'));
  expect(dropped).toBeGreaterThan(0);
  const sent = sentMessages();
  expect(sent).toHaveLength(history.length - dropped);
  expect(sent[0]).toEqual({ role: 'system', content: 'Be brief.' });
  expect(sent[1]!.role).toBe('user'); // never opens on a reply whose question was dropped
  expect(sent.at(-1)).toEqual({ role: 'user', content: 'And now?' });
  // A short conversation is left as it is.
  const short = await h.post('/v1/chat/completions', { model: small, messages: history.slice(0, 3) }, key, { 'x-enclave-context': 'trim' });
  expect(short.headers.get('x-enclave-context-dropped')).toBe('0');
  expect(sentMessages()).toHaveLength(3);
});

test('a deployment with no declared context is passed through; a bad value or endpoint is a 400', async () => {
  const { key } = await h.keyFor();
  const res = await h.post('/v1/chat/completions', { model: unknown, messages: history }, key, { 'x-enclave-context': 'trim' });
  expect(res.headers.get('x-enclave-context-dropped')).toBe('0');
  expect(sentMessages()).toHaveLength(history.length);
  const before = engine.received;
  for (const [path, body, value] of [
    ['/v1/chat/completions', { model: small, messages: history }, 'summarize'],
    ['/v1/completions', { model: small, prompt: 'hi' }, 'trim'],
  ] as const) {
    const bad = await h.post(path, body, key, { 'x-enclave-context': value });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('x-enclave-context');
  }
  expect(engine.received).toBe(before);
});

test('an image counts at its token estimate, not its base64 length, when fitting', async () => {
  // 600 tokens of context: a small image (255 tokens at the estimate) fits beside 200 tokens of text
  // although its data: URL alone is longer than 600 × 3 characters: nothing is dropped.
  const noise = makePng(300, 300, [1, 2, 3]);
  const url = dataUrl('image/png', Buffer.concat([noise, Buffer.alloc(3000, 7)]));
  expect(url.length).toBeGreaterThan(1800);
  const vision = (await makeDeployment(h.t.db, { engine: 'vllm', vision: true, spec: { engine: 'vllm', maxModelLen: 600 } }, [engine.url])).deployment.name;
  await h.gateway.refresh();
  const { key } = await h.keyFor();
  const messages = [
    { role: 'user', content: line(0) },
    { role: 'assistant', content: line(1) },
    { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url } }] },
  ];
  const res = await h.post('/v1/chat/completions', { model: vision, max_tokens: 8, messages }, key, { 'x-enclave-context': 'trim' });
  expect(res.status).toBe(200);
  await res.json();
  expect(res.headers.get('x-enclave-context-dropped')).toBe('0');
  expect((engine.requests.at(-1)!.body as { messages: unknown[] }).messages).toHaveLength(3);
});
