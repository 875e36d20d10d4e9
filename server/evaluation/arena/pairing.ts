import { randomInt } from 'node:crypto';
import type { UsableModel } from '../../chat/models';

/**
 * Who may enter the arena: ready deployments, each once. Never an experiment: its name is an alias
 * that routes to one of its arms, so "experiment vs deployment" could be a deployment facing itself
 * (found by trying it: a model faced itself through an experiment alias), and a vote would credit an
 * alias rather than a model on the leaderboard.
 */
export function arenaContestants(models: readonly Pick<UsableModel, 'name' | 'engine' | 'ready'>[]): string[] {
  return [...new Set(models.filter((m) => m.ready && m.engine !== 'experiment').map((m) => m.name))];
}

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
