import { and, asc, desc, eq, gte, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { auditLog } from '../db/schema';
import { GENESIS_HASH } from './audit-hash';

/** The chain row that records a month exported and about to be dropped (audit-archive.ts). */
export const PARTITION_ARCHIVED = 'audit.partition_archived';

/** What a `audit.partition_archived` row's detail holds: enough for the chain to go on without the month. */
export interface ArchiveRecord {
  partition: string;
  /** Row ids the month held (0 and 0 for an empty month). */
  fromId: number;
  toId: number;
  rows: number;
  /** The hash of the month's last row (the previous month's when empty): the next row links to it. */
  lastHash: string;
  /** Rows archived from the chain's start up to and including this month. */
  archivedRowsTotal: number;
  manifestSha256: string;
  dir: string;
}

/** A missing archive, as verification reports it (an AuditProblem of audit-verify.ts, which imports this file). */
export interface ArchiveMissing {
  kind: 'archive-missing';
  rowId: number;
  expected: string;
  found: string;
  message: string;
}

export interface ArchivedBase {
  oldestId?: number;
  prevHash: string;
  archivedRows: number;
  archivedUpToId?: number;
  problems: ArchiveMissing[];
}

/**
 * Where the chain in the table begins. The oldest row links to the genesis, or, once months were
 * archived and dropped, to the last archived row's hash, which the newest matching archive record in
 * the chain names. Anything else means rows were removed from the start without an archive.
 */
export async function archivedBase(db: Db): Promise<ArchivedBase> {
  const [oldest] = await db.select({ id: auditLog.id, prevHash: auditLog.prevHash }).from(auditLog).orderBy(asc(auditLog.id)).limit(1);
  if (!oldest || oldest.prevHash === GENESIS_HASH) return { oldestId: oldest?.id, prevHash: GENESIS_HASH, archivedRows: 0, problems: [] };
  const [record] = await db
    .select({ detail: auditLog.detail })
    .from(auditLog)
    .where(and(eq(auditLog.action, PARTITION_ARCHIVED), eq(auditLog.outcome, 'success'), sql`${auditLog.detail}->>'lastHash' = ${oldest.prevHash}`))
    .orderBy(desc(auditLog.id))
    .limit(1);
  const archive = record?.detail as unknown as ArchiveRecord | undefined;
  if (archive && archive.toId < oldest.id) {
    return { oldestId: oldest.id, prevHash: archive.lastHash, archivedRows: archive.archivedRowsTotal, archivedUpToId: archive.toId, problems: [] };
  }
  return {
    oldestId: oldest.id,
    // The walk goes on from what the row claims, so what follows is still checked.
    prevHash: oldest.prevHash,
    archivedRows: 0,
    problems: [
      {
        kind: 'archive-missing',
        rowId: oldest.id,
        expected: `prev_hash of an archived row (${PARTITION_ARCHIVED})`,
        found: `prev_hash ${oldest.prevHash}`,
        message: `Row #${oldest.id} is the oldest row, but it follows a row that is neither in the table nor in a recorded archive: rows before it were deleted.`,
      },
    ],
  };
}

export interface ChainStart extends ArchivedBase {
  /** The walk reads rows with ids above this one... */
  afterId: number;
  /** ...and the first must link to this hash. */
  prevHash: string;
  /** Rows of the chain before the walk's first row (archived ones included): checkpoints count from the very start. */
  rowsBefore: number;
}

/** Where a verification starts: the chain's beginning, or the last row before `from` (which the first row in range must link to). */
export async function chainStart(db: Db, from?: Date): Promise<ChainStart> {
  const base = await archivedBase(db);
  const whole = { ...base, afterId: base.oldestId ? base.oldestId - 1 : 0, rowsBefore: base.archivedRows };
  if (!from) return whole;
  const [first] = await db.select({ id: auditLog.id }).from(auditLog).where(gte(auditLog.at, from)).orderBy(asc(auditLog.id)).limit(1);
  const [before] = first
    ? await db.select({ id: auditLog.id, hash: auditLog.hash }).from(auditLog).where(lt(auditLog.id, first.id)).orderBy(desc(auditLog.id)).limit(1)
    : await db.select({ id: auditLog.id, hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.id)).limit(1);
  if (!before) return whole;
  const counted = await db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM audit_log WHERE id <= ${before.id}`);
  // A range that starts after the oldest row: its problems (an archive missing) are the whole chain's, told all the same.
  return { ...base, afterId: before.id, prevHash: before.hash, rowsBefore: base.archivedRows + counted.rows[0]!.n };
}
