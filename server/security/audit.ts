import { createHash } from 'node:crypto';
import { and, asc, desc, gt, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { auditLog, AUDIT_OUTCOMES } from '../db/schema';
import type { DbOrTx } from './db-types';

export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export interface AuditEntry {
  actorUserId?: string | null;
  actorLabel?: string | null;
  action: string;
  target?: string | null;
  clientAddress?: string | null;
  outcome: AuditOutcome;
  detail?: Record<string, unknown>;
}

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

interface HashedFields {
  at: Date;
  actorUserId: string | null;
  actorLabel: string | null;
  action: string;
  target: string | null;
  clientAddress: string | null;
  outcome: AuditOutcome;
  detail: Record<string, unknown>;
}

export function auditRowHash(prevHash: string, f: HashedFields): string {
  const body = canonicalJson({ ...f, at: f.at.toISOString() });
  return createHash('sha256').update(prevHash).update(body).digest('hex');
}

/**
 * Appends one row to the hash chain. The advisory lock serialises writers across every process, so
 * two rows never claim the same predecessor.
 */
export async function writeAudit(db: DbOrTx, entry: AuditEntry): Promise<void> {
  const fields: HashedFields = {
    // Milliseconds, which PostgreSQL stores exactly, so the hash can be recomputed from the row.
    at: new Date(),
    actorUserId: entry.actorUserId ?? null,
    actorLabel: entry.actorLabel ?? null,
    action: entry.action,
    target: entry.target ?? null,
    clientAddress: entry.clientAddress ?? null,
    outcome: entry.outcome,
    // Round-trip through JSON so the hashed value is what jsonb will hold (no undefined, no Dates).
    detail: JSON.parse(JSON.stringify(entry.detail ?? {})),
  };
  await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext('enclave.audit-chain'))`);
    const [last] = await tx.select({ hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.id)).limit(1);
    const prevHash = last?.hash ?? GENESIS_HASH;
    await tx.insert(auditLog).values({ ...fields, prevHash, hash: auditRowHash(prevHash, fields) });
  });
}

/** Walks the whole chain in id order; the first row whose links or hash do not match is reported. */
export async function verifyAuditChain(db: Db): Promise<{ ok: boolean; checked: number; brokenAtId?: number }> {
  let prevHash = GENESIS_HASH;
  let afterId = 0;
  let checked = 0;
  for (;;) {
    const rows = await db.select().from(auditLog).where(gt(auditLog.id, afterId)).orderBy(asc(auditLog.id)).limit(1000);
    if (rows.length === 0) return { ok: true, checked };
    for (const row of rows) {
      const expected = auditRowHash(prevHash, {
        at: row.at,
        actorUserId: row.actorUserId,
        actorLabel: row.actorLabel,
        action: row.action,
        target: row.target,
        clientAddress: row.clientAddress,
        outcome: row.outcome,
        detail: row.detail,
      });
      if (row.prevHash !== prevHash || row.hash !== expected) return { ok: false, checked, brokenAtId: row.id };
      prevHash = row.hash;
      checked++;
    }
    afterId = rows[rows.length - 1]!.id;
  }
}

export async function listAudit(db: Db, { limit, beforeId }: { limit: number; beforeId?: number }) {
  return db
    .select({
      id: auditLog.id,
      at: auditLog.at,
      actorUserId: auditLog.actorUserId,
      actorLabel: auditLog.actorLabel,
      action: auditLog.action,
      target: auditLog.target,
      clientAddress: auditLog.clientAddress,
      outcome: auditLog.outcome,
      detail: auditLog.detail,
    })
    .from(auditLog)
    .where(beforeId === undefined ? undefined : and(lt(auditLog.id, beforeId)))
    .orderBy(desc(auditLog.id))
    .limit(limit);
}

// Input fields that hold secrets or user content: never copied into an audit row.
const SENSITIVE_KEY = /pass|secret|token|key$|content|title|text|search|prompt|message/i;

/** What of a mutation's input an audit row may keep: ids, names, flags; strings cut short. */
export function auditDetailFromInput(input: unknown): Record<string, unknown> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return {};
  const detail: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
    if (SENSITIVE_KEY.test(k)) continue;
    if (typeof v === 'string') detail[k] = v.length > 120 ? `${v.slice(0, 120)}…` : v;
    else if (typeof v === 'number' || typeof v === 'boolean' || v === null) detail[k] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) detail[k] = v.slice(0, 20);
  }
  return detail;
}
