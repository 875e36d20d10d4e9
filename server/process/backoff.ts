/** Exponential backoff for restarts: base, 2x base, 4x base … capped, so a crash loop never spins the CPU. */
export type BackoffPolicy = { baseMs: number; maxMs: number };

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 30_000 };

/** The wait before restart number `attempt` (1 for the first restart after a crash). */
export function restartDelayMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const exponent = Math.max(0, attempt - 1);
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(exponent, 30));
}
