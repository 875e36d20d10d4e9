import { randomInt } from 'node:crypto';

/**
 * Two different models, uniformly over the unordered pairs, then a coin for which one sits on the
 * left: the voter can learn nothing from position. `pick(n)` returns an integer in [0, n).
 */
export function pickPair(models: string[], pick: (n: number) => number = randomInt): { modelA: string; modelB: string } {
  const unique = [...new Set(models)];
  if (unique.length < 2) throw new Error('a pair needs two models');
  const n = unique.length;
  const pairIndex = pick((n * (n - 1)) / 2);
  let i = 0;
  let remaining = pairIndex;
  while (remaining >= n - 1 - i) {
    remaining -= n - 1 - i;
    i++;
  }
  const j = i + 1 + remaining;
  const [first, second] = [unique[i]!, unique[j]!];
  return pick(2) === 0 ? { modelA: first, modelB: second } : { modelA: second, modelB: first };
}
