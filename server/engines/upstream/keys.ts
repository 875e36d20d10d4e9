import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { deployments } from '../../db/schema';
import { decryptText, encryptText } from '../../security/encryption';
import { DomainError } from '../../core/errors';

/**
 * An upstream deployment's API key, sealed with the data keys that seal messages, kept in the
 * deployment's spec JSONB beside the settings (never in plain text, never returned by the API):
 *   spec.upstreamKeyEnc        base64 of the sealed key
 *   spec.upstreamKeyDataKeyId  the data key that sealed it
 * Code that rewrites `spec` from a parsed DeploymentSpec must carry these two fields over.
 */
export interface SealedUpstreamKey {
  upstreamKeyEnc: string;
  upstreamKeyDataKeyId: number;
}

// A key goes into an HTTP header: printable ASCII without spaces, so it can never split the header.
const KEY_SHAPE = /^[\x21-\x7e]{1,4096}$/;

export async function storeUpstreamKey(db: Db, masterKey: Buffer, deploymentId: string, key: string): Promise<void> {
  if (!KEY_SHAPE.test(key)) throw new DomainError('BAD_REQUEST', 'The upstream API key must be 1 to 4096 printable characters without spaces');
  const { ciphertext, dataKeyId } = await encryptText(db, masterKey, key);
  const sealed: SealedUpstreamKey = { upstreamKeyEnc: ciphertext.toString('base64'), upstreamKeyDataKeyId: dataKeyId };
  const updated = await db
    .update(deployments)
    .set({ spec: sql`${deployments.spec} || ${JSON.stringify(sealed)}::jsonb`, updatedAt: new Date() })
    .where(and(eq(deployments.id, deploymentId), eq(deployments.engine, 'upstream')))
    .returning({ id: deployments.id });
  if (updated.length === 0) throw new DomainError('NOT_FOUND', 'No upstream deployment with this id');
}

export async function loadUpstreamKey(db: Db, masterKey: Buffer, deploymentId: string): Promise<string | null> {
  const [row] = await db.select({ spec: deployments.spec }).from(deployments).where(eq(deployments.id, deploymentId));
  if (!row) throw new DomainError('NOT_FOUND', 'No deployment with this id');
  return openUpstreamKey(db, masterKey, row.spec);
}

/** The key sealed in a deployment's spec, or null when it has none. Throws when it cannot be opened. */
export async function openUpstreamKey(db: Db, masterKey: Buffer, spec: Record<string, unknown>): Promise<string | null> {
  const sealed = sealedKeyOf(spec);
  if (!sealed) return null;
  return decryptText(db, masterKey, Buffer.from(sealed.upstreamKeyEnc, 'base64'), sealed.upstreamKeyDataKeyId);
}

export function sealedKeyOf(spec: Record<string, unknown>): SealedUpstreamKey | null {
  const enc = spec.upstreamKeyEnc;
  const id = spec.upstreamKeyDataKeyId;
  return typeof enc === 'string' && typeof id === 'number' ? { upstreamKeyEnc: enc, upstreamKeyDataKeyId: id } : null;
}
