import { describe, expect, it } from 'vitest';
import { imageTokens } from '../../core/images';
import { dataUrl, makePng } from '../../testing/media-fixtures';
import { messageTokens, planContext, type HistoryMessage } from './fit';
import { ContextWindows, parseContextRefusal } from './windows';

const turn = (i: number, role: 'user' | 'assistant', chars = 300): HistoryMessage => ({ id: `${role}-${i}`, role, content: `${role} ${i} `.padEnd(chars, 'x') });
/** n exchanges, then the new question: 2n + 1 messages of 300 characters (100 tokens each at 3 characters a token). */
const history = (n: number) => [...Array.from({ length: n }, (_, i) => [turn(i, 'user'), turn(i, 'assistant')]).flat(), turn(n, 'user')];
const window = (tokens?: number) => ({ tokens, charsPerToken: 3 });

describe('parseContextRefusal', () => {
  it('reads the built-in engine’s, vLLM’s (old and new) and OpenAI’s wordings', () => {
    expect(parseContextRefusal("The prompt is 2082 tokens; this model's context holds 2048 including the completion.")).toEqual({ promptTokens: 2082, contextTokens: 2048 });
    expect(parseContextRefusal("The prompt is 90000 bytes; this model's context holds 2048 tokens including the completion, which no prompt over 8000 bytes fits.")).toEqual({ promptTokens: undefined, contextTokens: 2048 });
    expect(parseContextRefusal("This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4900 in the messages, 100 in the completion). Please reduce the length of the messages or completion.")).toEqual({ contextTokens: 4096, promptTokens: 4900 });
    expect(parseContextRefusal("This model's maximum context length is 4096 tokens. However, your request has 5000 input tokens. Please reduce the length of the input messages.")).toEqual({ contextTokens: 4096, promptTokens: 5000 });
    expect(parseContextRefusal("This model's maximum context length is 8192 tokens.")).toEqual({ contextTokens: 8192, promptTokens: undefined });
    expect(parseContextRefusal('The model does not exist')).toBeNull();
  });

  it('a refusal teaches the size and a ratio that errs long; answered turns move the ratio slowly', () => {
    const w = new ContextWindows();
    expect(w.get('m')).toEqual({ tokens: undefined, charsPerToken: 3 });
    w.refused('m', { contextTokens: 2048, promptTokens: 2000 }, 4000); // 2 characters a token
    expect(w.get('m')).toEqual({ tokens: 2048, charsPerToken: 2 });
    w.declare('m', 999); // a declared size never overrides what an engine said
    expect(w.get('m').tokens).toBe(2048);
    w.answered('m', 1000, 4000); // a long turn at 4 characters a token
    expect(w.get('m').charsPerToken).toBeCloseTo(4, 5);
    w.answered('m', 30, 9); // a short question, mostly template tokens: hardly moves it
    expect(w.get('m').charsPerToken).toBeGreaterThan(3.8);
    w.answered('m', 1000, 2000); // a long turn at 2 characters a token moves it a lot
    expect(w.get('m').charsPerToken).toBeLessThan(3.2);
  });
});

describe('planContext', () => {
  it('sends everything while it fits, or while the context is unknown', () => {
    for (const tokens of [undefined, 10_000]) {
      const plan = planContext({ history: history(5), policy: 'summarize', window: window(tokens), maxTokens: 100 });
      expect(plan).toMatchObject({ fits: true, omitted: 0, toSummarize: [] });
      if (plan.fits) expect(plan.messages).toHaveLength(11);
    }
  });

  it('trim: drops the oldest turns, never opening on a reply, and keeps the system prompt', () => {
    const plan = planContext({ history: history(5), systemPrompt: 'Be brief.', policy: 'trim', window: window(800), maxTokens: 100 });
    if (!plan.fits) throw new Error('expected a plan');
    expect(plan.messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
    expect(plan.messages[1]!.role).toBe('user');
    expect(plan.messages.at(-1)!.content).toMatch(/^user 5/);
    expect(plan.omitted % 2).toBe(0);
    expect(plan.estimatedTokens).toBeLessThanOrEqual(800 - 100 - 40);
    expect(plan.toSummarize).toEqual([]);
  });

  it('summarize: asks for a summary of what no longer fits, then sends it in their place', () => {
    const h = history(5);
    const first = planContext({ history: h, policy: 'summarize', window: window(800), maxTokens: 100 });
    if (!first.fits) throw new Error('expected a plan');
    expect(first.toSummarize.map((m) => m.id)).toEqual(h.slice(0, first.omitted).map((m) => m.id));
    const second = planContext({ history: h, policy: 'summarize', window: window(800), maxTokens: 100, summary: { throughIndex: first.omitted - 1, text: 'They talked about dogs.' } });
    if (!second.fits) throw new Error('expected a plan');
    expect(second.summarized).toBe(true);
    expect(second.messages[0]!.content).toContain('They talked about dogs.');
    expect(second.toSummarize).toEqual([]);
  });

  it("'turns' sends only the last N user turns; the reply budget is lowered to the room left", () => {
    const plan = planContext({ history: history(5), policy: 'turns', turns: 2, window: window(100_000), maxTokens: 4096 });
    if (!plan.fits) throw new Error('expected a plan');
    expect(plan.omitted).toBe(8);
    expect(plan.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    const tight = planContext({ history: [turn(0, 'user')], policy: 'trim', window: window(400), maxTokens: 4096 });
    if (!tight.fits) throw new Error('expected a plan');
    expect(tight.maxTokens).toBeLessThan(400 - 100);
  });

  it('a message too long on its own does not fit, with the numbers to say so', () => {
    const plan = planContext({ history: [turn(0, 'user', 3000)], policy: 'summarize', window: window(512), maxTokens: 100 });
    expect(plan).toMatchObject({ fits: false, contextTokens: 512 });
    if (!plan.fits) expect(plan.latestTokens).toBeGreaterThan(1000);
  });
});

describe('images in the estimate', () => {
  it('an image costs what the gateway charges for it, not its base64 length', () => {
    const big = dataUrl('image/png', makePng(1024, 1024));
    const w = window(2000);
    expect(messageTokens({ content: 'hi', images: [big] }, w)).toBe(messageTokens({ content: 'hi' }, w) + imageTokens(1024, 1024, null));
    expect(messageTokens({ content: 'hi', images: ['data:image/png;base64,broken'] }, w)).toBe(messageTokens({ content: 'hi' }, w) + 765);
    // Two 765-token images and 300 characters: more than a 1600-token context holds with its reserve; the old turn goes.
    const h: HistoryMessage[] = [{ ...turn(0, 'user'), images: [big, big] }, turn(0, 'assistant'), turn(1, 'user')];
    const plan = planContext({ history: h, policy: 'trim', window: window(1600), maxTokens: 16 });
    expect(plan).toMatchObject({ fits: true, omitted: 2 });
  });
});
