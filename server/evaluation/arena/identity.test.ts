import { describe, expect, it } from 'vitest';
import { identityLeak } from './identity';
import { pickPair } from './pairing';

describe('identity filter', () => {
  it.each([
    ['I am ChatGPT, a language model.', 'chatgpt'],
    ['As Claude, I cannot help with that.', 'claude'],
    ['i am llama, made by meta', 'llama'],
    ['我是通义千问 (Qwen)。', 'qwen'],
    ['I was trained by OPENAI.', 'openai'],
  ])('flags %s', (text, word) => {
    expect(identityLeak(text, ['alpha-7b', 'beta-chat'])).toContain(word);
  });

  it('flags the battle’s own deployment or model names, case-insensitively', () => {
    expect(identityLeak('Hello! I am Stories260K, here to help.', ['stories260K', 'other'])).toContain('stories260K');
    expect(identityLeak('This answer comes from BETA-CHAT.', ['alpha-7b', 'beta-chat'])).toContain('beta-chat');
  });

  it('passes ordinary answers, and does not match inside other words or on very short names', () => {
    expect(identityLeak('Once upon a time, a cat sat on a mat.', ['stories260K', 'tinyllm'])).toBeNull();
    expect(identityLeak('Bernie went to the market.', ['x1', 'y2'])).toBeNull();
    expect(identityLeak('It was a good day, and it ended well.', ['it', 'a'])).toBeNull();
  });
});

describe('pair picking', () => {
  it('covers every unordered pair uniformly, with both sides, never the same model twice', () => {
    const models = ['a', 'b', 'c', 'd'];
    const seen = new Map<string, number>();
    let draws = 0;
    // Enumerate every pick sequence: 6 pairs x 2 sides.
    for (let pair = 0; pair < 6; pair++)
      for (let side = 0; side < 2; side++) {
        const answers = [pair, side];
        const { modelA, modelB } = pickPair(models, () => answers.shift()!);
        expect(modelA).not.toBe(modelB);
        const key = `${modelA}-${modelB}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        draws++;
      }
    expect(draws).toBe(12);
    expect(seen.size).toBe(12);
  });

  it('refuses fewer than two distinct models', () => {
    expect(() => pickPair(['a', 'a'])).toThrow();
  });
});
