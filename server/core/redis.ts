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
    db: redisDatabase(url.toString()),
    maxRetriesPerRequest: null,
  };
}

/** The database index a Redis URL names (its path, `redis://host:port/N`; none is 0); throws when the path is not one. */
export function redisDatabase(raw: string): number {
  const path = new URL(raw).pathname.replace(/^\/+|\/+$/g, '');
  if (path === '') return 0;
  if (!/^\d{1,9}$/.test(path)) throw new Error(`its path "/${path.slice(0, 40)}" is not a database index (redis://host:port/0)`);
  return Number(path);
}

/**
 * Whether the shared client can work in the configured database right now. ioredis reports "ready" and
 * carries on in database 0 when its SELECT fails, so a PING alone would call a misconfigured Redis healthy.
 */
export async function checkRedis(): Promise<void> {
  const client = redis();
  const db = redisDatabase(env().REDIS_URL);
  if (db !== 0) await client.select(db);
  await client.ping();
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
