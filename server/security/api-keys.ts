import { hash, randomBytes } from 'node:crypto';
import { and, desc, eq, isNull } from 'drizzle-orm';
import type { Db } from '../db/client';
import { apiKeys, users, type Role } from '../db/schema';
import { announceCredentialChange } from './credential-events';

/**
 * API keys for the gateway. A key is `sk-enc-` + 32 random bytes (base64url); only its sha256 and a short
 * display prefix are stored, so a database dump cannot be replayed. The plaintext is returned once.
 */
export const API_KEY_PREFIX = 'sk-enc-';
const KEY_BODY = /^sk-enc-[A-Za-z0-9_-]{43}$/;
const DISPLAY_PREFIX_LENGTH = API_KEY_PREFIX.length + 6;

export function hashApiKey(key: string): string {
  // One-shot hash: no Hash object per call, which matters on the gateway's hot path.
  return hash('sha256', key, 'hex');
}

export function looksLikeApiKey(key: string): boolean {
  return KEY_BODY.test(key);
}

export class ApiKeyInputError extends Error {}

export interface CreateApiKeyInput {
  userId: string;
  name: string;
  /** null or undefined: every model the owner's role may use. */
  models?: string[] | null;
  expiresAt?: Date | null;
  /** Requests in flight at once; null or undefined: the gateway's default, 0: no cap (a load test's own key). */
  maxConcurrent?: number | null;
}

export async function createApiKey(db: Db, input: CreateApiKeyInput): Promise<{ id: string; key: string; prefix: string }> {
  const name = input.name.trim();
  if (!name || name.length > 100) throw new ApiKeyInputError('A key needs a name of 1 to 100 characters');
  if (input.models && (input.models.length === 0 || input.models.some((m) => !m.trim())))
    throw new ApiKeyInputError('models must be a non-empty list of model names, or omitted for every model');
  if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) throw new ApiKeyInputError('expiresAt must be in the future');
  const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  const prefix = key.slice(0, DISPLAY_PREFIX_LENGTH);
  const [row] = await db
    .insert(apiKeys)
    .values({
      userId: input.userId,
      name,
      prefix,
      keyHash: hashApiKey(key),
      models: input.models ? [...new Set(input.models.map((m) => m.trim()))] : null,
      expiresAt: input.expiresAt ?? null,
      maxConcurrent: input.maxConcurrent ?? null,
    })
    .returning({ id: apiKeys.id });
  return { id: row!.id, key, prefix };
}

export interface AuthenticatedKey {
  ok: true;
  keyId: string;
  userId: string;
  role: Role;
  /** null: every model the role may use. */
  models: string[] | null;
  expiresAt: Date | null;
  maxConcurrent: number | null;
}
export type ApiKeyRejection = { ok: false; reason: 'malformed' | 'unknown' | 'revoked' | 'expired' | 'user_disabled' };

/** Looks a presented key up by its hash. One indexed query; the gateway caches the answer for a few seconds. */
export async function authenticateApiKey(db: Db, key: string, now = new Date()): Promise<AuthenticatedKey | ApiKeyRejection> {
  if (!looksLikeApiKey(key)) return { ok: false, reason: 'malformed' };
  const [row] = await db
    .select({
      keyId: apiKeys.id,
      userId: apiKeys.userId,
      models: apiKeys.models,
      expiresAt: apiKeys.expiresAt,
      maxConcurrent: apiKeys.maxConcurrent,
      revokedAt: apiKeys.revokedAt,
      role: users.role,
      disabled: users.disabled,
    })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(eq(apiKeys.keyHash, hashApiKey(key)))
    .limit(1);
  if (!row) return { ok: false, reason: 'unknown' };
  if (row.revokedAt) return { ok: false, reason: 'revoked' };
  if (row.expiresAt && row.expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
  if (row.disabled) return { ok: false, reason: 'user_disabled' };
  return { ok: true, keyId: row.keyId, userId: row.userId, role: row.role as Role, models: row.models, expiresAt: row.expiresAt, maxConcurrent: row.maxConcurrent };
}

export interface ApiKeySummary {
  id: string;
  name: string;
  prefix: string;
  models: string[] | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  createdAt: Date;
}

/** The owner's keys, newest first; never the hash. */
export async function listApiKeys(db: Db, userId: string): Promise<ApiKeySummary[]> {
  return db
    .select({
      id: apiKeys.id,
      name: apiKeys.name,
      prefix: apiKeys.prefix,
      models: apiKeys.models,
      expiresAt: apiKeys.expiresAt,
      revokedAt: apiKeys.revokedAt,
      lastUsedAt: apiKeys.lastUsedAt,
      createdAt: apiKeys.createdAt,
    })
    .from(apiKeys)
    .where(eq(apiKeys.userId, userId))
    .orderBy(desc(apiKeys.createdAt));
}

/** Revokes one of the owner's keys. False when the key is not theirs, does not exist, or was already revoked. */
export async function revokeApiKey(db: Db, userId: string, id: string): Promise<boolean> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return false;
  const rows = await db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.id, id), eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  if (rows.length === 1) await announceCredentialChange({ keyId: id });
  return rows.length === 1;
}
