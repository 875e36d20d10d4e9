import type { Redis } from 'ioredis';
import { GatewayError } from './errors';

/**
 * A fixed one-minute window per key (or per user, for the web role's calls), counted in Redis so every
 * gateway replica shares the count. If Redis is unreachable the request goes through: a rate limiter
 * must not turn a cache outage into a full outage.
 */
export function createRateLimiter(redis: Redis, prefix: string, perMinute: number) {
  return {
    async check(subject: string): Promise<void> {
      const now = Date.now();
      const window = Math.floor(now / 60_000);
      const key = `${prefix}:ratelimit:${subject}:${window}`;
      let count: number;
      try {
        const results = await redis.multi().incr(key).pexpire(key, 61_000).exec();
        count = Number(results?.[0]?.[1] ?? 0);
      } catch {
        return;
      }
      if (count > perMinute) {
        const retryAfter = Math.max(1, Math.ceil(((window + 1) * 60_000 - now) / 1000));
        throw new GatewayError(
          429,
          'rate_limit_error',
          'rate_limit_exceeded',
          `Rate limit of ${perMinute} requests per minute reached; retry in ${retryAfter} s`,
          null,
          { 'retry-after': String(retryAfter) },
        );
      }
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
