import { createHash } from 'node:crypto';
import type { AUDIT_OUTCOMES } from '../db/schema';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every level, so PostgreSQL's jsonb key order cannot change a hash. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export interface HashedFields {
  at: Date;
  actorUserId: string | null;
  actorLabel: string | null;
  action: string;
  target: string | null;
  clientAddress: string | null;
  outcome: (typeof AUDIT_OUTCOMES)[number];
  detail: Record<string, unknown>;
}

export function auditRowHash(prevHash: string, f: HashedFields): string {
  const body = canonicalJson({ ...f, at: f.at.toISOString() });
  return createHash('sha256').update(prevHash).update(body).digest('hex');
}

