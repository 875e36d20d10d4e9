import type { Redis } from 'ioredis';
import { afterCommit } from '../db/after-commit';
import { errorMessage, log } from '../core/log';
import { redis, redisKey } from '../core/redis';

/**
 * "This key was revoked", "this user was disabled or changed role": told to every gateway process over
 * Redis pub/sub, so each drops what it cached about them and the change applies within a moment
 * everywhere, while credentials nobody changed stay cached (the hot path needs no query).
 */
export interface CredentialChange {
  keyId?: string;
  userId?: string;
  /** Everything may have changed (a subscription that was down has just come back). */
  all?: boolean;
  /** A quota or price changed: gateways reload their quota rows now rather than at their next poll. */
  quotas?: boolean;
  /** Who may use which deployment changed (a group grant): gateways reload their routing table now. */
  routes?: boolean;
}

export function credentialChannel(prefix: string): string {
  return `${prefix}:auth:changed`;
}

/** Announces a change once the surrounding transaction has committed (gateways reload what they drop). */
export async function announceCredentialChange(change: CredentialChange): Promise<void> {
  await afterCommit(async () => {
    try {
      await redis().publish(redisKey('auth', 'changed'), JSON.stringify(change));
    } catch (e) {
      // Gateways that miss it fall back to their short cache lifetime while their subscription is down.
      log.warn('could not announce a credential change', { error: errorMessage(e) });
    }
  });
}

/**
 * Subscribes to credential changes on a connection of its own. `healthy()` is false while the
 * subscription is down: a gateway then trusts its cache for a much shorter time, since changes may be
 * missed.
 */
export function subscribeCredentialChanges(client: Redis, prefix: string, onChange: (change: CredentialChange) => void) {
  const subscriber = client.duplicate({ maxRetriesPerRequest: null, lazyConnect: false });
  let subscribed = false;
  subscriber.on('error', () => {});
  subscriber.on('close', () => (subscribed = false));
  subscriber.on('end', () => (subscribed = false));
  subscriber.on('ready', () => {
    subscriber.subscribe(credentialChannel(prefix)).then(
      () => {
        subscribed = true;
        // Whatever was announced while nobody listened is lost: start from nothing.
        onChange({ all: true });
      },
      () => (subscribed = false),
    );
  });
  subscriber.on('message', (_channel: string, text: string) => {
    try {
      const parsed = JSON.parse(text) as CredentialChange;
      onChange({ keyId: typeof parsed.keyId === 'string' ? parsed.keyId : undefined, userId: typeof parsed.userId === 'string' ? parsed.userId : undefined, quotas: parsed.quotas === true || undefined, routes: parsed.routes === true || undefined });
    } catch {
      // Not ours: ignored.
    }
  });
  return {
    healthy: () => subscribed,
    close: () => subscriber.quit().then(() => undefined, () => subscriber.disconnect()),
  };
}
