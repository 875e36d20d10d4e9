import type { Redis } from 'ioredis';
import { errorMessage, log } from '../core/log';
import { onBreakerChange, PROBE_MS, type BreakerChange } from './replica-health';

/**
 * Each replica's breaker state (replica-health.ts) lives in the memory of each gateway process; the
 * deployment page is served by the web role. So every change is also written to Redis, one key per
 * replica that expires on its own once nothing is set aside any more, and read back by the page. With
 * several gateway processes the latest change wins: one process setting a replica aside is worth showing.
 */
export interface BreakerView {
  state: 'set_aside' | 'probing';
  /** ms since epoch: end of the cooldown, or of the probe's allowance. */
  until: number;
  failures?: number;
}

const keyOf = (prefix: string, replicaId: string) => `${prefix}:gateway:breaker:${replicaId}`;

/** Writes this process's breaker changes to Redis; returns the way to stop. */
export function publishBreakerChanges(redis: Redis, prefix: string): () => void {
  return onBreakerChange((change: BreakerChange) => {
    const key = keyOf(prefix, change.replicaId);
    const done =
      change.state === 'in_service'
        ? redis.del(key)
        : redis.set(
            key,
            JSON.stringify({ state: change.state, until: change.until, ...(change.state === 'set_aside' ? { failures: change.failures } : {}) } satisfies BreakerView),
            // Kept past the cooldown for one probe's allowance: a replica nobody probed still shows as due.
            'PX',
            Math.max(1, change.until - Date.now()) + PROBE_MS,
          );
    done.catch((err: unknown) => log.warn('gateway: publishing a breaker change failed', { error: errorMessage(err) }));
  });
}

/** The breaker state of these replicas; a replica missing from the answer is in service. */
export async function readBreakerStates(redis: Redis, prefix: string, replicaIds: string[]): Promise<Record<string, BreakerView>> {
  if (replicaIds.length === 0) return {};
  const values = await redis.mget(...replicaIds.map((id) => keyOf(prefix, id)));
  const out: Record<string, BreakerView> = {};
  values.forEach((v, i) => {
    if (!v) return;
    try {
      out[replicaIds[i]!] = JSON.parse(v) as BreakerView;
    } catch {
      // a damaged value shows as in service rather than breaking the page
    }
  });
  return out;
}
