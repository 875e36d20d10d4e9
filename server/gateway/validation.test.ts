import { expect, test } from 'vitest';
import { GatewayError } from './errors';
import { parseBody } from './validation';

const chat = (extra: Record<string, unknown>) => Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra }));
const paramOf = (fn: () => unknown) => {
  try {
    fn();
    return 'accepted';
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayError);
    expect((e as GatewayError).status).toBe(400);
    return (e as GatewayError).param;
  }
};

test('valid bodies pass through with unknown fields intact', () => {
  const body = parseBody('chat', chat({ top_k: 5, stop: ['a', 'b'], temperature: 0, top_p: 1, seed: -3, max_tokens: null, stream_options: { include_usage: true } }));
  expect(body.top_k).toBe(5);
  for (const prompt of ['x', ['a', 'b'], [1, 2], [[1], [2, 3]]]) expect(paramOf(() => parseBody('completion', Buffer.from(JSON.stringify({ model: 'm', prompt }))))).toBe('accepted');
  expect(paramOf(() => parseBody('chat', chat({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }, { role: 'assistant', content: null }] })))).toBe('accepted');
});

test('each bad field is named', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ temperature: 2.5 }, 'temperature'],
    [{ temperature: '1' }, 'temperature'],
    [{ top_p: 0 }, 'top_p'],
    [{ n: 1.5 }, 'n'],
    [{ max_tokens: 0 }, 'max_tokens'],
    [{ max_tokens: 1e9 }, 'max_tokens'],
    [{ max_completion_tokens: -1 }, 'max_completion_tokens'],
    [{ stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
    [{ stop: [1] }, 'stop[0]'],
    [{ stream: 'yes' }, 'stream'],
    [{ stream_options: { include_usage: 1 } }, 'stream_options.include_usage'],
    [{ presence_penalty: 3 }, 'presence_penalty'],
    [{ user: 7 }, 'user'],
    [{ model: '' }, 'model'],
    [{ model: 'x'.repeat(257) }, 'model'],
    [{ messages: [{ role: 'user', content: [{ text: 'no type' }] }] }, 'messages[0].content[0].type'],
    [{ messages: [{ role: 'user', content: 'x', name: 3 }] }, 'messages[0].name'],
    [{ messages: ['hello'] }, 'messages[0]'],
  ];
  for (const [extra, param] of cases) expect([extra, paramOf(() => parseBody('chat', chat(extra)))]).toEqual([extra, param]);
  expect(paramOf(() => parseBody('completion', Buffer.from('{"model":"m","prompt":[]}')))).toBe('prompt');
  expect(paramOf(() => parseBody('completion', Buffer.from('{"model":"m","prompt":[1,"a"]}')))).toBe('prompt');
  expect(paramOf(() => parseBody('chat', Buffer.from('[1]')))).toBeNull();
});
