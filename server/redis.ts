import type { ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { env } from './env';

let shared: Redis | undefined;

/** The process-wide Redis client for commands (cache, counters, pub/sub publishing). */
export function redis(): Redis {
  if (!shared) {
    shared = new Redis(env().REDIS_URL, { maxRetriesPerRequest: 2, enableOfflineQueue: true });
    shared.on('error', () => {});
  }
  return shared;
}

/** Options for a BullMQ connection: BullMQ requires maxRetriesPerRequest null on its own connections. */
export function bullConnectionOptions(): ConnectionOptions {
  const url = new URL(env().REDIS_URL);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    username: url.username || undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    maxRetriesPerRequest: null,
  };
}

/** Every Enclave key in Redis starts with this, so installs and test files sharing a Redis never collide. */
export function redisKey(...parts: string[]): string {
  return [env().REDIS_PREFIX, ...parts].join(':');
}

export async function closeRedis(): Promise<void> {
  const current = shared;
  shared = undefined;
  await current?.quit().catch(() => current.disconnect());
}
