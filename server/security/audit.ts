import { desc, sql } from 'drizzle-orm';
import { auditLog, type AuditEntry } from '../db/schema';
import { auditRowHash, GENESIS_HASH, type HashedFields } from './audit-hash';
import type { DbOrTx } from '../db/types';

export type { AuditEntry, AuditOutcome } from '../db/schema';

export { auditRowHash, canonicalJson, GENESIS_HASH } from './audit-hash';
export { verifyAuditChain } from './audit-verify';

/**
 * Appends one row to the hash chain. The advisory lock serialises writers across every process, so
 * two rows never claim the same predecessor.
 */
export async function writeAudit(db: DbOrTx, entry: AuditEntry): Promise<void> {
  const fields: HashedFields = {
    // Milliseconds, which PostgreSQL stores exactly, so the hash can be recomputed from the row. Set
    // again under the lock below: ids and times must rise together (see there).
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
    const [last] = await tx.select({ hash: auditLog.hash, at: auditLog.at }).from(auditLog).orderBy(desc(auditLog.id)).limit(1);
    const prevHash = last?.hash ?? GENESIS_HASH;
    // Never earlier than the row before: a month's partition then holds one unbroken run of ids, so
    // dropping it after its archive leaves the chain whole from the next row on (audit-archive.ts).
    const now = Date.now();
    const at = new Date(last && last.at.getTime() > now ? last.at.getTime() : now);
    const row = { ...fields, at };
    await tx.insert(auditLog).values({ ...row, prevHash, hash: auditRowHash(prevHash, row) });
  });
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
