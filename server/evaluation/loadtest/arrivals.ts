import { gamma, seededRandom } from './random';

/**
 * Send times (ms after the start) for `count` requests at `rate` requests per second, computed up front
 * so that no shard decides timing on the fly. Gaps are gamma-distributed with shape `burstiness` and
 * mean 1/rate, as vLLM's benchmark does: burstiness 1 is a Poisson process (exponential gaps), below 1
 * is burstier (CV = 1/sqrt(burstiness)), above 1 is more regular.
 */
export function arrivalSchedule(count: number, rate: number, burstiness = 1, seed = 1): number[] {
  if (!(rate > 0) || !Number.isFinite(rate)) throw new Error('rate must be a positive number');
  if (!(burstiness > 0)) throw new Error('burstiness must be positive');
  const rand = seededRandom(seed);
  const meanGapMs = 1000 / rate;
  const out: number[] = new Array(count);
  let t = 0;
  for (let i = 0; i < count; i++) {
    out[i] = t;
    t += (gamma(rand, burstiness) / burstiness) * meanGapMs;
  }
  return out;
}
