import { inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { conversations, datasets } from '../../db/schema';
import { afterCommit } from '../../db/after-commit';
import { writeAudit } from '../../security/audit';
import { classificationLevels, hasClassifications } from './levels';
import { backendForDataDir } from '../../artifacts';

export const RETENTION_BATCH = 500;

export interface RetentionResult {
  /** Deleted, by level name. */
  conversations: Record<string, number>;
  datasets: Record<string, number>;
  /** Past their limit but kept: on legal hold (theirs or their owner's), or a dataset a job still uses. */
  keptOnHold: number;
  keptInUse: number;
}

/**
 * The level of each candidate is its classification row's, or the default level; a candidate is past its
 * limit when its last activity (a conversation's updated_at, a dataset's upload) is older than its level's
 * keep_days. Nothing on hold is ever a candidate.
 */
function levelOf(kind: 'conversation' | 'dataset', idColumn: unknown, classified: boolean, defaultLevel: number) {
  return classified
    ? sql`COALESCE((SELECT dc.level FROM data_classifications dc WHERE dc.subject_kind = ${kind} AND dc.subject_id = ${idColumn}), ${defaultLevel})`
    : sql`${defaultLevel}::smallint`;
}

/**
 * Applies the retention policies: deletes conversations (their messages with them) and datasets (rows,
 * then their sealed files once the batch commits) older than their level allows, in batches of 500, each
 * batch its own transaction. One audit row per run that deleted something: counts by level, and how many
 * were kept on hold or in use; never ids or content. Run by the maintenance queue (task 'retention').
 */
export async function applyRetention(db: Db, opts: { dataDir: string; now?: Date }): Promise<RetentionResult> {
  const { names, defaultLevel } = classificationLevels();
  const classified = await hasClassifications(db);
  const now = opts.now ?? new Date();
  const result: RetentionResult = { conversations: {}, datasets: {}, keptOnHold: 0, keptInUse: 0 };
  const artifacts = backendForDataDir(opts.dataDir);

  const convLevel = levelOf('conversation', sql`c.id`, classified, defaultLevel);
  const convHeld = sql`EXISTS (SELECT 1 FROM legal_holds h WHERE h.lifted_at IS NULL AND ((h.subject_kind = 'conversation' AND h.subject_id = c.id) OR (h.subject_kind = 'user' AND h.subject_id = c.user_id)))`;
  const convDue = sql`FROM conversations c JOIN retention_policies p ON p.subject_kind = 'conversation' AND p.level = ${convLevel} AND p.keep_days IS NOT NULL
    WHERE c.updated_at < ${now.toISOString()}::timestamptz - p.keep_days * interval '1 day'`;
  for (;;) {
    const batch = await db.execute<{ id: string; level: number }>(sql`SELECT c.id, p.level ${convDue} AND NOT ${convHeld} LIMIT ${RETENTION_BATCH}`);
    if (!batch.rows.length) break;
    const ids = batch.rows.map((r) => r.id);
    // The legal-hold trigger refuses a hold placed since the select: that batch fails, the next run retries without it.
    await db.delete(conversations).where(inArray(conversations.id, ids));
    for (const r of batch.rows) result.conversations[names[r.level]!] = (result.conversations[names[r.level]!] ?? 0) + 1;
    if (batch.rows.length < RETENTION_BATCH) break;
  }
  const heldConv = await db.execute<{ n: number }>(sql`SELECT count(*)::int AS n ${convDue} AND ${convHeld}`);
  result.keptOnHold += heldConv.rows[0]!.n;

  const dsLevel = levelOf('dataset', sql`d.id`, classified, defaultLevel);
  const dsHeld = sql`EXISTS (SELECT 1 FROM legal_holds h WHERE h.lifted_at IS NULL AND h.subject_kind = 'user' AND h.subject_id = d.owner_id)`;
  const dsUsed = sql`EXISTS (SELECT 1 FROM jobs j WHERE j.dataset_id = d.id)`;
  const dsDue = sql`FROM datasets d JOIN retention_policies p ON p.subject_kind = 'dataset' AND p.level = ${dsLevel} AND p.keep_days IS NOT NULL
    WHERE d.created_at < ${now.toISOString()}::timestamptz - p.keep_days * interval '1 day'`;
  for (;;) {
    const batch = await db.execute<{ id: string; level: number; storage_path: string }>(
      sql`SELECT d.id, p.level, d.storage_path ${dsDue} AND NOT ${dsHeld} AND NOT ${dsUsed} LIMIT ${RETENTION_BATCH}`,
    );
    if (!batch.rows.length) break;
    await db.transaction(async (tx) => {
      await tx.delete(datasets).where(inArray(datasets.id, batch.rows.map((r) => r.id)));
      // The files go once the rows are gone for good: a rolled-back batch still finds its files.
      await afterCommit(() => Promise.all(batch.rows.map((r) => artifacts.delete(r.storage_path))));
    });
    for (const r of batch.rows) result.datasets[names[r.level]!] = (result.datasets[names[r.level]!] ?? 0) + 1;
    if (batch.rows.length < RETENTION_BATCH) break;
  }
  const keptDs = await db.execute<{ held: number; used: number }>(
    sql`SELECT count(*) FILTER (WHERE ${dsHeld})::int AS held, count(*) FILTER (WHERE NOT ${dsHeld} AND ${dsUsed})::int AS used ${dsDue}`,
  );
  result.keptOnHold += keptDs.rows[0]!.held;
  result.keptInUse += keptDs.rows[0]!.used;

  const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  // Only runs that deleted something leave a row (with what holds and jobs kept): an hourly "nothing" would bury the trail.
  if (total(result.conversations) || total(result.datasets))
    await writeAudit(db, { actorLabel: 'retention', action: 'retention.applied', outcome: 'success', detail: { ...result } });
  return result;
}
