/**
 * mulberry32: a tiny seeded generator. Math.random cannot be seeded, and Enclave needs reproducible
 * draws: bootstrap intervals that do not jitter between page loads, load-test schedules rebuilt from
 * their spec, and property tests that name the seed which fails.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
