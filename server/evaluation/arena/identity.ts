/**
 * Words that name a model family or its maker. An answer containing one ("I am ChatGPT, made by
 * OpenAI") tells the voter which model wrote it, so the vote is not blind; FastChat's arena filters
 * on a similar list.
 */
export const IDENTITY_WORDS = [
  'chatgpt',
  'gpt-3.5',
  'gpt-4',
  'gpt4',
  'openai',
  'claude',
  'anthropic',
  'llama',
  'meta ai',
  'qwen',
  'tongyi',
  'alibaba',
  'gemini',
  'gemma',
  'bard',
  'google',
  'mistral',
  'mixtral',
  'deepseek',
  'chatglm',
  'zhipu',
  'baichuan',
  'yi-34b',
  '01.ai',
  'vicuna',
  'lmsys',
  'cohere',
  'phi-3',
  'microsoft',
  'internlm',
  'moonshot',
  'kimi',
  'ernie',
  'wenxin',
] as const;

// A deployment called "a" or "it" would match ordinary text; names this short are not checked.
const MIN_NAME_LENGTH = 3;

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whole words only, case-insensitive: "Qwen" and "qwen2" match, "Ernie" matches but "Bernie" does not. */
function mentions(text: string, word: string): boolean {
  return new RegExp(`(^|[^\\p{L}\\p{N}])${escape(word)}`, 'iu').test(text);
}

/**
 * Why an answer gives a model away, or null. `names` are the battle's deployment and model names;
 * the reason names the word found, so an engineer reviewing excluded votes sees what was matched.
 */
export function identityLeak(text: string, names: string[]): string | null {
  for (const name of names) {
    if (name.trim().length >= MIN_NAME_LENGTH && mentions(text, name.trim())) return `An answer names a model in this battle ("${name.trim()}")`;
  }
  for (const word of IDENTITY_WORDS) if (mentions(text, word)) return `An answer names a model or vendor ("${word}")`;
  return null;
}
