import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Db } from '../db/client';
import { errorMessage, log } from '../core/log';
import { openWithKeyId, sealWithKeyId } from '../security/encryption';
import type { Level } from '../security/classification';
import { isComplete, type CachedAnswer } from './cached-answer';
import type { Route, RoutePolicy } from './routes';
import type { ForwardedBody } from './validation';

/**
 * The exact-match response cache (issue 14, part 4), in Redis so every gateway process shares it.
 *
 * What is looked up: the deployment (its id, model version and upstream model: a new version never
 * serves the old's answers), the endpoint, and every field of the request body except the three that
 * only shape the delivery (`stream`, `stream_options`, `user`), canonicalised (keys sorted) and hashed.
 * Excluding fields rather than listing the ones that matter means a parameter added to the API later
 * (or an engine's own, like `top_k`) is part of the key by default: two requests share an answer only
 * when nothing that could change it differs.
 *
 * Whose answer it is: the key is scoped to the caller's account (every key of one owner and the owner's
 * own chat share it; nobody else does) and to the request's declared data classification. Sharing
 * across a group was considered and refused: `x-enclave-cache: hit` would tell a member that someone in
 * the group sent exactly this prompt, an oracle on colleagues' conversations.
 *
 * Which requests: deterministic ones (temperature 0, or a seed) unless the deployment opts every request
 * in (cache_mode 'all'), or none ('off'). Only complete, successful answers are stored (cached-answer.ts).
 *
 * At rest: sealed (AES-256-GCM) under the owner's data key (security/encryption.ts), so Redis, its
 * snapshots and its replicas hold no plaintext, and erasing a person (crypto-shredding their keys) makes
 * their cached answers unreadable at once. The Redis key is a hash that names nobody. Value layout:
 * data key id (4 bytes, big-endian) ‖ sealed(header JSON line ‖ '\n' ‖ the engine's bytes).
 *
 * Redis away: the request is answered live and not stored (never refused: the cache is an optimisation).
 */
export interface ResponseCacheOptions {
  redis: Redis;
  prefix: string;
  db: Db;
  masterKey: Buffer;
  /** Answers larger than this are not kept (bytes). */
  maxBytes?: number;
}

/** Fields that change how an answer is delivered, never what it says. */
const DELIVERY_ONLY = new Set(['stream', 'stream_options', 'user']);
const DEFAULT_MAX_BYTES = 1 << 20;

/** Whether a request may be answered from (and stored in) the cache under the deployment's mode. */
export function isCacheable(mode: RoutePolicy['cacheMode'], body: ForwardedBody): boolean {
  if (mode === 'off') return false;
  if (mode === 'all') return true;
  const b = body as { temperature?: unknown; seed?: unknown };
  return b.temperature === 0 || (typeof b.seed === 'number' && Number.isInteger(b.seed));
}

/** JSON with object keys sorted at every depth (arrays keep their order: message order matters). */
function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}

/** The hash naming a request's cached answer (see the comment at the top for what goes in). */
export function cacheKey(route: Route, path: string, body: ForwardedBody, ownerId: string, level: Level): string {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (!DELIVERY_ONLY.has(k) && k !== 'model') fields[k] = v;
  return createHash('sha256')
    .update(`v1\u0000${route.deploymentId}\u0000${route.modelVersionId ?? ''}\u0000${route.upstream?.model ?? ''}\u0000${path}\u0000${ownerId}\u0000${level}\u0000`)
    .update(canonical(fields))
    .digest('hex');
}

export function createResponseCache(opts: ResponseCacheOptions) {
  const { redis, db, masterKey } = opts;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const redisKey = (hash: string) => `${opts.prefix}:gateway:cache:${hash}`;
  let lastWarning = 0;
  function warn(what: string, err: unknown) {
    // One line a minute at most: a Redis outage must not flood the log (and never any content).
    if (Date.now() - lastWarning < 60_000) return;
    lastWarning = Date.now();
    log.warn(`gateway: response cache ${what} failed`, { error: errorMessage(err) });
  }

  return {
    /** Whether lookups can be made now (Redis connected); when not, requests bypass the cache. */
    available(): boolean {
      return redis.status === 'ready';
    },

    /** The cached answer, or null (none, expired, or unreadable: a destroyed data key, a damaged value). */
    async get(hash: string): Promise<CachedAnswer | null> {
      let stored: Buffer | null;
      try {
        stored = await redis.getBuffer(redisKey(hash));
      } catch (err) {
        warn('lookup', err);
        return null;
      }
      if (!stored || stored.length < 4) return null;
      try {
        const plain = await openWithKeyId(db, masterKey, stored);
        const newline = plain.indexOf(0x0a);
        const header = JSON.parse(plain.toString('utf8', 0, newline)) as { k: 'json' | 'sse'; p: number | null; c: number | null };
        return { kind: header.k, promptTokens: header.p, completionTokens: header.c, body: plain.subarray(newline + 1) };
      } catch (err) {
        warn('opening an entry', err);
        return null;
      }
    },

    /** Keeps a complete, successful answer for `ttlSeconds`, sealed under the owner's data key. Never throws. */
    async put(hash: string, ttlSeconds: number, ownerId: string, answer: CachedAnswer): Promise<boolean> {
      if (answer.body.length > maxBytes || !isComplete(answer.kind, answer.body)) return false;
      try {
        const header = Buffer.from(`${JSON.stringify({ k: answer.kind, p: answer.promptTokens, c: answer.completionTokens })}\n`);
        await redis.set(redisKey(hash), await sealWithKeyId(db, masterKey, Buffer.concat([header, answer.body]), ownerId), 'EX', ttlSeconds);
        return true;
      } catch (err) {
        warn('store', err);
        return false;
      }
    },
  };
}

export type ResponseCache = ReturnType<typeof createResponseCache>;
