import { and, asc, gt, lte } from 'drizzle-orm';
import type { Db } from '../db/client';
import { auditLog } from '../db/schema';
import { auditRowHash, GENESIS_HASH } from './audit-hash';
import { chainStart } from './audit-chain-start';

/** What a checkpoint saw of the chain: its newest row (id and hash) and how many rows it had. */
export interface AuditCheckpoint {
  headId: number;
  headHash: string;
  count: number;
  /** When it was taken (ISO). */
  at: string;
}

export type AuditProblemKind =
  | 'chain-broken'
  | 'row-rewritten'
  | 'rows-deleted'
  | 'row-count'
  | 'tail-deleted'
  | 'truncated'
  | 'anchor-tampered'
  | 'anchor-other-key'
  | 'anchors-missing'
  | 'archive-missing';

/** One way the log disagrees with itself or with its checkpoints; `message` says it in plain words. */
export interface AuditProblem {
  kind: AuditProblemKind;
  message: string;
  rowId?: number;
  newestId?: number;
  expectedRows?: number;
  foundRows?: number;
  /** The checkpoint that disagrees (the newest one, when several disagree the same way) and how many do. */
  anchorAt?: string;
  anchors?: number;
  line?: number;
  /** For a broken link: what the row should hold (from the row before it) and what it holds. */
  expected?: string;
  found?: string;
}

export interface AuditChainVerification {
  ok: boolean;
  /** Rows whose links and hashes were checked before the first break (all of them when ok). */
  checked: number;
  /** The first row whose link or hash does not match. */
  brokenAtId?: number;
  rows: number;
  /** The first row walked (the oldest, or the first at or after `from`). */
  firstId?: number;
  newestId?: number;
  /** Rows exported and dropped before the oldest row left (audit-archive.ts), and the last of them. */
  archivedRows: number;
  archivedUpToId?: number;
  /** Checkpoints that matched the table exactly. */
  anchorsMatched: number;
  /** Checkpoints of rows outside what was walked: archived months, or outside --from/--to. */
  anchorsOutside: number;
  problems: AuditProblem[];
}

/** A slice of the chain by time: rows with `at` from `from` to `to` (either open). */
export interface AuditRange {
  from?: Date;
  to?: Date;
}

/**
 * Walks the whole chain in id order: each row must link to the one before and hash to what it holds,
 * which catches an edited row and a row deleted in the middle. What the chain cannot see (rows gone
 * from its end, an emptied table, a chain recomputed after an edit) the checkpoints do: each names a
 * row, its hash and the number of rows up to it, so that row must still be there, unchanged, with as
 * many rows before it. Months archived and dropped (audit-archive.ts) are skipped: the walk starts from
 * the last archived hash the chain records, and counts the archived rows. With a range, only its rows
 * are walked, from the row just before it.
 */
export async function verifyAuditChain(db: Db, checkpoints: AuditCheckpoint[] = [], range: AuditRange = {}): Promise<AuditChainVerification> {
  const byHead = new Map<number, AuditCheckpoint[]>();
  for (const c of checkpoints) byHead.set(c.headId, [...(byHead.get(c.headId) ?? []), c]);
  const failed: Disagreement[] = [];
  // Where the walk starts: the genesis, the last archived row's hash, or (with `from`) the row before the range.
  const start = await chainStart(db, range.from);
  let prevHash = start.prevHash;
  let afterId = start.afterId;
  let rows = 0;
  let checked = 0;
  let brokenAtId: number | undefined;
  let broken: { expected: string; found: string } | undefined;
  let anchorsMatched = 0;
  let firstId: number | undefined;
  for (;;) {
    const where = range.to ? and(gt(auditLog.id, afterId), lte(auditLog.at, range.to)) : gt(auditLog.id, afterId);
    const page = await db.select().from(auditLog).where(where).orderBy(asc(auditLog.id)).limit(1000);
    if (page.length === 0) break;
    for (const row of page) {
      firstId ??= row.id;
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
      if (brokenAtId === undefined && (row.prevHash !== prevHash || row.hash !== expected)) {
        brokenAtId = row.id;
        broken = row.prevHash !== prevHash ? { expected: `prev_hash ${prevHash}`, found: `prev_hash ${row.prevHash}` } : { expected: `hash ${expected}`, found: `hash ${row.hash}` };
      }
      if (brokenAtId === undefined) checked++;
      // Past a break the walk goes on from what each row claims, so every checkpoint is still compared.
      prevHash = row.hash;
      rows++;
      // Rows counted from the chain's very first row: those archived and those before the range included.
      const upTo = start.rowsBefore + rows;
      for (const c of byHead.get(row.id) ?? []) {
        const saw = seen(c);
        if (row.hash !== c.headHash) failed.push({ kind: 'row-rewritten', c, message: `Rows were rewritten: row #${c.headId} no longer has the hash ${saw}.` });
        else if (upTo < c.count) failed.push({ kind: 'rows-deleted', c, foundRows: upTo, message: `Rows were deleted: ${saw}; only ${upTo} lead to it now.` });
        else if (upTo > c.count) failed.push({ kind: 'row-count', c, foundRows: upTo, message: `Rows were inserted into the past: ${saw}; ${upTo} lead to it now.` });
        else anchorsMatched++;
      }
      byHead.delete(row.id);
    }
    afterId = page[page.length - 1]!.id;
  }
  const newestId = rows ? afterId : undefined;
  let anchorsOutside = 0;
  for (const c of [...byHead.values()].flat()) {
    const saw = seen(c);
    // Archived months, and rows before or after the range asked for, are not this walk's to judge.
    if (c.headId <= (start.archivedUpToId ?? 0) || c.headId <= start.afterId || (range.to && c.headId > afterId)) anchorsOutside++;
    else if (rows === 0 && start.rowsBefore === 0) failed.push({ kind: 'truncated', c, foundRows: 0, message: `The audit log was emptied (truncated): ${saw}; the table now has no rows.` });
    else if (c.headId > afterId) {
      const total = start.rowsBefore + rows;
      const message = `Rows were deleted at the end of the log: ${saw}; the newest row now is #${afterId} (${total} in all).`;
      failed.push({ kind: 'tail-deleted', c, foundRows: total, newestId, message });
    } else failed.push({ kind: 'rows-deleted', c, message: `Rows were deleted: ${saw}; that row is gone.` });
  }
  const problems: AuditProblem[] = [...start.problems];
  if (brokenAtId !== undefined) {
    problems.push({
      kind: 'chain-broken',
      rowId: brokenAtId,
      ...broken,
      message: `Row #${brokenAtId} does not follow from the rows before it: it was edited, or rows before it were deleted (expected ${broken!.expected}, found ${broken!.found}).`,
    });
  }
  problems.push(...newestOfEachKind(failed));
  return {
    ok: problems.length === 0,
    checked,
    ...(brokenAtId !== undefined ? { brokenAtId } : {}),
    rows,
    firstId,
    newestId,
    archivedRows: start.archivedRows,
    ...(start.archivedUpToId !== undefined ? { archivedUpToId: start.archivedUpToId } : {}),
    anchorsMatched,
    anchorsOutside,
    problems,
  };
}

interface Disagreement {
  kind: AuditProblemKind;
  c: AuditCheckpoint;
  message: string;
  foundRows?: number;
  newestId?: number;
}

function seen(c: AuditCheckpoint): string {
  return `the checkpoint of ${c.at} saw row #${c.headId} with ${c.count} row(s) up to it`;
}

/** One problem per kind, told from the newest checkpoint that disagrees that way (it shows the most loss). */
function newestOfEachKind(failed: Disagreement[]): AuditProblem[] {
  const newest = new Map<AuditProblemKind, { d: Disagreement; n: number }>();
  for (const d of failed) {
    const current = newest.get(d.kind);
    if (!current) newest.set(d.kind, { d, n: 1 });
    else newest.set(d.kind, { d: d.c.headId > current.d.c.headId ? d : current.d, n: current.n + 1 });
  }
  return [...newest.values()].map(({ d: { kind, c, message, foundRows, newestId }, n }) => ({
    kind,
    message: n > 1 ? `${message} (${n} checkpoints disagree this way.)` : message,
    rowId: c.headId,
    expectedRows: c.count,
    ...(foundRows !== undefined ? { foundRows } : {}),
    ...(newestId !== undefined ? { newestId } : {}),
    anchorAt: c.at,
    anchors: n,
  }));
}
