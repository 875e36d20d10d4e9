import fs from 'node:fs';
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { auditLog, dataKeys } from '../db/schema';
import type { Env } from '../core/env';
import { log } from '../core/log';
import { writeAudit } from './audit';
import { appendAnchor, auditAnchorFile, ensureAnchorFile, newestAnchor, readAnchors, type AnchorRead } from './audit-anchor-file';
import { verifyAuditChain, type AuditChainVerification, type AuditCheckpoint, type AuditProblem, type AuditRange } from './audit-verify';
import { archivedBase } from './audit-chain-start';
import { keyFingerprint } from './master-key';

/** Where this install's checkpoints go and the master key their MACs derive from. */
export interface AuditAnchors {
  file: string;
  masterKey: Buffer;
}

export function auditAnchors(env: Pick<Env, 'dataDir' | 'ENCLAVE_AUDIT_ANCHOR_DIR'>, masterKey: Buffer): AuditAnchors {
  return { file: auditAnchorFile(env), masterKey };
}

/** Recorded in the chain when a process starts a new anchor file, so a deleted file is noticed. */
export const ANCHORS_STARTED = 'audit.anchors_started';

/**
 * One writer of the anchor file at a time, across every process and host sharing the database (the
 * scheduled checkpoint, a verification, a key rotation): they never interleave or reorder lines.
 */
export async function withAnchorLock<T>(db: Db, fn: () => Promise<T>, { wait = true } = {}): Promise<T | 'busy'> {
  const client = await db.$client.connect();
  let broken: Error | undefined;
  try {
    if (wait) await client.query(`SELECT pg_advisory_lock(hashtext('enclave.audit-anchor'))`);
    else {
      const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtext('enclave.audit-anchor')) AS locked`);
      if (!rows[0]!.locked) return 'busy';
    }
    try {
      return await fn();
    } finally {
      await client.query(`SELECT pg_advisory_unlock(hashtext('enclave.audit-anchor'))`).catch((e: Error) => (broken = e));
    }
  } finally {
    // A connection whose unlock failed is closed, which releases the lock with it.
    client.release(broken);
  }
}

export type CheckpointResult =
  | { written: AuditCheckpoint }
  | { skipped: 'busy' | 'empty' | 'unchanged' | 'stale-key' }
  | { refused: string };

/**
 * Appends a checkpoint of the chain's head to the anchor file when the head moved. Refuses when the
 * table no longer matches the newest checkpoint: anchoring a log that lost rows would bless the loss.
 */
export async function checkpointAuditLog(db: Db, anchors: AuditAnchors, { wait = false } = {}): Promise<CheckpointResult> {
  const result = await withAnchorLock(db, () => checkpointLocked(db, anchors), { wait });
  return result === 'busy' ? { skipped: 'busy' } : result;
}

async function checkpointLocked(db: Db, anchors: AuditAnchors): Promise<CheckpointResult> {
  // After `keys rotate-master`, a process still holding the old key would sign lines the new key cannot check.
  const [newestDataKey] = await db.select({ fp: dataKeys.masterFingerprint }).from(dataKeys).orderBy(desc(dataKeys.id)).limit(1);
  if (newestDataKey && newestDataKey.fp !== keyFingerprint(anchors.masterKey)) {
    log.warn('audit checkpoint skipped: this process holds an earlier master key; restart it');
    return { skipped: 'stale-key' };
  }
  if (!fs.existsSync(anchors.file)) {
    // A file the chain says was started and is now gone is evidence: it stays missing until an operator moves the anchors.
    const started = await anchorsStartedRow(db, anchors.file);
    if (started) return refuse(`the anchor file ${anchors.file} is gone, though row #${started.id} records its start; set ENCLAVE_AUDIT_ANCHOR_DIR to start anew elsewhere`);
    ensureAnchorFile(anchors.file);
    await writeAudit(db, { actorLabel: 'system', action: ANCHORS_STARTED, target: anchors.file, outcome: 'success', detail: { file: anchors.file } });
  }
  const newest = newestAnchor(anchors.file, anchors.masterKey);
  // Counts run from the chain's very first row: months archived and dropped still count (audit-chain-start.ts).
  const { archivedRows, archivedUpToId } = await archivedBase(db);
  const result = await db.execute<{ id: number; hash: string; count: number; last_hash: string | null; last_count: number }>(sql`
    SELECT a.id::int AS id, a.hash, (SELECT count(*) FROM audit_log WHERE id <= a.id)::int + ${archivedRows}::int AS count,
      (SELECT hash FROM audit_log WHERE id = ${newest?.headId ?? 0}) AS last_hash,
      (SELECT count(*) FROM audit_log WHERE id <= ${newest?.headId ?? 0})::int + ${archivedRows}::int AS last_count
    FROM audit_log a ORDER BY a.id DESC LIMIT 1`);
  const head = result.rows[0];
  // The newest checkpoint's row may itself have been archived since (a quiet install): nothing to compare in the table.
  const newestArchived = newest !== undefined && newest.headId <= (archivedUpToId ?? 0);
  if (newest && !newestArchived && (head?.last_hash !== newest.headHash || head.last_count !== newest.count)) {
    return refuse(`the audit log no longer matches the checkpoint of ${newest.at} (row #${newest.headId}); run \`enclave audit verify\``);
  }
  if (!head) return { skipped: 'empty' };
  if (newest?.headId === head.id) return { skipped: 'unchanged' };
  const checkpoint: AuditCheckpoint = { headId: head.id, headHash: head.hash, count: head.count, at: new Date().toISOString() };
  appendAnchor(anchors.file, anchors.masterKey, checkpoint);
  return { written: checkpoint };
}

function refuse(refused: string): CheckpointResult {
  log.error(`audit checkpoint refused: ${refused}`);
  return { refused };
}

async function anchorsStartedRow(db: Db, file: string) {
  const [row] = await db
    .select({ id: auditLog.id, at: auditLog.at })
    .from(auditLog)
    .where(and(eq(auditLog.action, ANCHORS_STARTED), eq(auditLog.target, file)))
    .orderBy(desc(auditLog.id))
    .limit(1);
  return row;
}

export interface AuditVerification extends AuditChainVerification {
  anchorFile: string;
  /** Checkpoints that passed their MAC, in the anchor file and any copies given. */
  anchorsTotal: number;
  latestAnchorAt?: string;
  /** Written right after a verification that found nothing wrong. */
  checkpointWritten?: AuditCheckpoint;
  /** Why no checkpoint could be written after all held (the anchor folder is not writable, say). */
  checkpointRefused?: string;
}

/**
 * The chain checked row by row and against every checkpoint (the live anchor file's and those of any
 * exported copies given, which catch a live file cut short). When all holds, the verified head is
 * checkpointed at once.
 */
export async function verifyAudit(db: Db, anchors: AuditAnchors, { copies = [] as string[], range = {} as AuditRange } = {}): Promise<AuditVerification> {
  const result = await withAnchorLock(db, async () => {
    const live = readAnchors(anchors.file, anchors.masterKey);
    const reads = [live, ...copies.map((file) => mustExist(readAnchors(file, anchors.masterKey)))];
    const checkpoints = distinct(reads.flatMap((r) => r.checkpoints));
    const chain = await verifyAuditChain(db, checkpoints, range);
    const problems = [...chain.problems, ...reads.flatMap((r) => r.problems), ...(await missingAnchors(db, live))];
    const ok = problems.length === 0;
    const whole = !range.from && !range.to;
    // A checkpoint that cannot be written (a read-only or full disk) does not hide what was verified.
    // Only after the whole chain held: a slice that held says nothing of the rows around it.
    const checkpoint = ok && whole ? await checkpointLocked(db, anchors).catch((e: Error): CheckpointResult => refuse(`cannot write ${anchors.file}: ${e.message}`)) : undefined;
    return {
      ...chain,
      ok,
      problems,
      anchorFile: anchors.file,
      anchorsTotal: checkpoints.length,
      latestAnchorAt: checkpoints.map((c) => c.at).sort().at(-1),
      ...(checkpoint && 'written' in checkpoint ? { checkpointWritten: checkpoint.written } : {}),
      ...(checkpoint && 'refused' in checkpoint ? { checkpointRefused: checkpoint.refused } : {}),
    };
  });
  if (result === 'busy') throw new Error('unreachable: the lock was awaited');
  return result;
}

function mustExist(read: AnchorRead): AnchorRead {
  if (!read.exists) throw new Error(`No such anchor file: ${read.file}`);
  return read;
}

function distinct(checkpoints: AuditCheckpoint[]): AuditCheckpoint[] {
  const seen = new Map<string, AuditCheckpoint>();
  for (const c of checkpoints) seen.set(`${c.headId}:${c.headHash}:${c.count}:${c.at}`, c);
  return [...seen.values()];
}

/** The chain says checkpoints were kept in this file from some row on; none at or past it means the file was deleted or cut. */
async function missingAnchors(db: Db, live: AnchorRead): Promise<AuditProblem[]> {
  const started = await anchorsStartedRow(db, live.file);
  if (!started || live.checkpoints.some((c) => c.headId >= started.id)) return [];
  return [
    {
      kind: 'anchors-missing',
      rowId: started.id,
      message: `Row #${started.id} records that checkpoints have been kept in ${live.file} since ${started.at.toISOString()}, but that file ${live.exists ? 'holds none since then' : 'is gone'}: it was deleted or cut short.`,
    },
  ];
}
