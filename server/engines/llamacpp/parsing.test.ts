import { describe, expect, it } from 'vitest';
import { parseEngineArgs } from './args';
import { CHAT_TURN_STOPS, renderChatPrompt } from './chat-template';
import { EngineError } from './errors';
import { parseChatRequest, parseCompletionRequest } from './request-schema';
import { SequencePool } from './sequence-pool';
import { StopDetector } from './stop-detector';

describe('StopDetector', () => {
  it('cuts at a stop split across pieces and never emits its start', () => {
    const detector = new StopDetector(['END']);
    const out = ['Hello E', 'N', 'D and more'].map((piece) => detector.push(piece));
    expect(out).toEqual(['Hello ', '', '']);
    expect(detector.stopped).toBe(true);
    expect(detector.flush()).toBe('');
  });

  it('releases held text when it turns out not to be a stop', () => {
    const detector = new StopDetector(['END']);
    expect(detector.push('an E')).toBe('an ');
    expect(detector.push('Nx')).toBe('ENx');
    expect(detector.push('E')).toBe('');
    expect(detector.flush()).toBe('E');
    expect(detector.stopped).toBe(false);
  });

  it('stops at the earliest of several stops', () => {
    const detector = new StopDetector(['\nUser:', 'cat']);
    expect(detector.push('a cat\nUser: hi')).toBe('a ');
  });

  it('passes everything through with no stops', () => {
    const detector = new StopDetector([]);
    expect(detector.push('abc')).toBe('abc');
    expect(detector.flush()).toBe('');
  });
});

describe('chat template', () => {
  it('renders system text, then User/Assistant turns, ending with Assistant:', () => {
    const prompt = renderChatPrompt([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
      { role: 'user', content: 'Again' },
    ]);
    expect(prompt).toBe('Be brief.\nUser: Hi\nAssistant: Hello\nUser: Again\nAssistant:');
    expect(CHAT_TURN_STOPS).toContain('\nUser:');
  });
});

describe('request parsing', () => {
  it('applies OpenAI defaults and joins text parts', () => {
    const request = parseChatRequest({ messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }], extra: 1 });
    expect(request).toMatchObject({ stream: false, includeUsage: false, temperature: 1, topP: 1, stop: [], ignoreEos: false, maxTokens: undefined });
    expect(request.turns).toEqual([{ role: 'user', content: 'ab' }]);
  });

  it('prefers max_completion_tokens and normalises stop to an array', () => {
    const request = parseCompletionRequest({ prompt: 'x', max_tokens: 9, max_completion_tokens: 3, stop: 'END' });
    expect(request.maxTokens).toBe(3);
    expect(request.stop).toEqual(['END']);
  });

  it('throws an EngineError naming the nested field', () => {
    try {
      parseChatRequest({ messages: [{ role: 'user', content: 'ok' }, { role: 'user' }] });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(EngineError);
      expect((error as EngineError).status).toBe(400);
      expect((error as EngineError).param).toBe('messages[1].content');
    }
  });
});

describe('engine arguments', () => {
  it('parses the documented command line', () => {
    expect(parseEngineArgs(['--model', 'm.gguf', '--name', 'm', '--port', '0', '--threads', '1', '--context', '2048', '--sequences', '4'])).toEqual({
      model: 'm.gguf',
      name: 'm',
      port: 0,
      host: '127.0.0.1',
      threads: 1,
      context: 2048,
      sequences: 4,
    });
  });

  it('names the bad flag', () => {
    expect(() => parseEngineArgs(['--model', 'm', '--name', 'n', '--sequences', 'four'])).toThrow(/--sequences/);
    expect(() => parseEngineArgs(['--name', 'n'])).toThrow(/--model/);
  });
});

describe('SequencePool', () => {
  it('hands items out first come, first served and resets them between holders', async () => {
    const resets: string[] = [];
    const pool = new SequencePool(['s'], async (item) => void resets.push(item));
    const first = await pool.acquire();
    const order: number[] = [];
    const second = pool.acquire().then((item) => (order.push(2), item));
    const third = pool.acquire().then((item) => (order.push(3), item));
    expect(pool.waiting).toBe(2);
    await pool.release(first);
    await pool.release(await second);
    await pool.release(await third);
    expect(order).toEqual([2, 3]);
    expect(resets).toEqual(['s', 's', 's']);
    expect([pool.running, pool.waiting]).toEqual([0, 0]);
  });

  it('drops a waiter whose signal aborts, and fails waiters on close', async () => {
    const pool = new SequencePool([1], async () => {});
    await pool.acquire();
    const controller = new AbortController();
    const leaving = pool.acquire(controller.signal);
    const staying = pool.acquire();
    controller.abort(new Error('gone'));
    await expect(leaving).rejects.toThrow('gone');
    expect(pool.waiting).toBe(1);
    pool.close();
    await expect(staying).rejects.toThrow(/shutting down/);
  });
});
