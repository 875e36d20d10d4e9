import { seededRandom } from './random';

// Short, common English words: each is one token in the usual BPE vocabularies (with its leading space),
// so N words make a prompt of about N tokens without shipping a tokenizer.
const WORDS = (
  'the of and to in is it you that he was for on are as with his they at be this have from or one had by ' +
  'word but not what all were we when your can said there use an each which she do how their if will up ' +
  'other about out many then them these so some her would make like him into time has look two more write ' +
  'go see number no way could people my than first water been call who oil its now find long down day did ' +
  'get come made may part over new sound take only little work know place year live me back give most very'
).split(' ');

/** About `tokens` tokens of filler text, the same for the same seed, different across seeds (no prefix-cache hits). */
export function randomPrompt(tokens: number, seed: number): string {
  const rand = seededRandom(seed);
  const out: string[] = new Array(Math.max(1, tokens));
  for (let i = 0; i < out.length; i++) out[i] = WORDS[Math.floor(rand() * WORDS.length)]!;
  return out.join(' ');
}
