import type { Db } from '../db/client';
import { auditNames, auditPage, auditWhere, type AuditFilter, type AuditRow } from './audit-query';

export const AUDIT_EXPORT_FORMATS = ['csv', 'jsonl'] as const;
export type AuditExportFormat = (typeof AUDIT_EXPORT_FORMATS)[number];

const CSV_COLUMNS = ['id', 'at', 'actor_user_id', 'actor', 'action', 'target', 'target_name', 'outcome', 'client_address', 'detail'] as const;

/** A CSV field: quoted when needed, and a leading =, +, - or @ defused so a spreadsheet does not run it. */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

type Names = Awaited<ReturnType<typeof auditNames>>;

function csvLine(r: AuditRow, names: Names): string {
  const actor = (r.actorUserId && names[r.actorUserId]?.name) ?? r.actorLabel ?? '';
  const fields = [String(r.id), r.at.toISOString(), r.actorUserId ?? '', actor, r.action, r.target ?? '', (r.target && names[r.target]?.name) ?? '', r.outcome, r.clientAddress ?? '', JSON.stringify(r.detail)];
  return fields.map(csvField).join(',') + '\n';
}

function jsonLine(r: AuditRow, names: Names): string {
  return JSON.stringify({ ...r, at: r.at.toISOString(), actorName: (r.actorUserId && names[r.actorUserId]?.name) ?? null, targetName: (r.target && names[r.target]?.name) ?? null }) + '\n';
}

/**
 * Streams the filtered rows, newest first, in pages of 2,000 (keyset, so a million rows cost no more
 * per page than ten); `write` resolves when the chunk may be followed by the next (backpressure).
 * Resolves with how many rows went out.
 */
export async function exportAudit(db: Db, filter: AuditFilter, format: AuditExportFormat, write: (chunk: string) => Promise<void>, { max = 5_000_000 } = {}): Promise<number> {
  const where = await auditWhere(db, filter);
  if (format === 'csv') await write(CSV_COLUMNS.join(',') + '\n');
  let beforeId: number | undefined;
  let count = 0;
  while (count < max) {
    const rows = await auditPage(db, where, { limit: Math.min(2000, max - count), beforeId });
    if (!rows.length) break;
    const names = await auditNames(db, rows);
    await write(rows.map((r) => (format === 'csv' ? csvLine(r, names) : jsonLine(r, names))).join(''));
    count += rows.length;
    beforeId = rows.at(-1)!.id;
  }
  return count;
}
