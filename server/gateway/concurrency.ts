import type { IncomingMessage } from 'node:http';
import type { Caller } from './auth';
import { GatewayError } from './errors';

/**
 * Requests in flight per API key (or per user, for the web role's chats) in this gateway process. One
 * key must not take every sequence an engine has: past its cap a request is refused at once with a
 * 429, before its body is even read. A key's own cap (api_keys.max_concurrent) overrides the default;
 * 0 means none (a load test's key, which sends as many as its spec says on purpose).
 */
export function createConcurrencyLimiter(defaultCap: number) {
  const inFlight = new Map<string, number>();
  const held = new WeakMap<IncomingMessage, string>();
  return {
    /** Takes a slot for the request; throws a 429 GatewayError when its caller has its cap in flight. */
    acquire(req: IncomingMessage, caller: Caller): void {
      const cap = caller.maxConcurrent ?? defaultCap;
      if (cap === 0) return;
      const subject = caller.keyId ?? `user:${caller.userId}`;
      const open = inFlight.get(subject) ?? 0;
      if (open >= cap) {
        throw new GatewayError(
          429,
          'rate_limit_error',
          'too_many_concurrent_requests',
          `${caller.keyId ? 'This API key' : 'This account'} already has ${cap} requests in flight: wait for one to finish`,
          null,
          { 'retry-after': '1' },
        );
      }
      inFlight.set(subject, open + 1);
      held.set(req, subject);
    },
    /** Gives the request's slot back (safe to call more than once, or for a request that took none). */
    release(req: IncomingMessage): void {
      const subject = held.get(req);
      if (subject === undefined) return;
      held.delete(req);
      const open = (inFlight.get(subject) ?? 1) - 1;
      if (open <= 0) inFlight.delete(subject);
      else inFlight.set(subject, open);
    },
    inFlight: (subject: string) => inFlight.get(subject) ?? 0,
  };
}
