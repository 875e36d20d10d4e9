import { describe, expect, it } from 'vitest';
import { arenaContestants, pickPair } from './pairing';

const dep = (name: string, ready = true) => ({ name, engine: 'llama.cpp', ready });

describe('arenaContestants', () => {
  it('takes ready deployments only, each once: never an experiment alias', () => {
    const models = [dep('alpha'), dep('beta'), dep('beta'), dep('cold', false), { name: 'alpha-vs-beta', engine: 'experiment', ready: true }];
    expect(arenaContestants(models)).toEqual(['alpha', 'beta']);
  });
  it('leaves fewer than two when only an experiment would make the pair', () => {
    expect(arenaContestants([dep('alpha'), { name: 'alpha-test', engine: 'experiment', ready: true }])).toEqual(['alpha']);
  });
});

describe('pickPair over the contestants', () => {
  it('every possible draw is two different deployments, none an experiment', () => {
    const names = arenaContestants([dep('a'), dep('b'), dep('c'), dep('d'), { name: 'exp', engine: 'experiment', ready: true }]);
    const n = names.length;
    const seen = new Set<string>();
    for (let pairIndex = 0; pairIndex < (n * (n - 1)) / 2; pairIndex++) {
      for (const side of [0, 1]) {
        const answers = [pairIndex, side];
        const { modelA, modelB } = pickPair(names, () => answers.shift()!);
        expect(modelA).not.toBe(modelB);
        expect([modelA, modelB]).not.toContain('exp');
        seen.add([modelA, modelB].sort().join('|'));
      }
    }
    expect(seen.size).toBe(6); // all unordered pairs of four are reachable
  });
  it('refuses a pool with one distinct name even when it is listed twice', () => {
    expect(() => pickPair(['a', 'a'])).toThrow('a pair needs two models');
  });
});
