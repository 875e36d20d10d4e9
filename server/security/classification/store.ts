import { and, eq, sql } from 'drizzle-orm';
import { writeAudit } from '../audit';
import type { DbOrTx } from '../../db/types';
import { dataClassifications, type ClassificationSetter, type ClassificationSubjectKind } from '../../db/schema';
import { defaultLevel, levelName, type Level } from './levels';

export interface Classification {
  /** Where the subject stands: never lowered except by a person, explicitly. */
  level: Level;
  /** What a person declared (user or admin); the default level when nobody did. Routing holds requests to it. */
  declaredLevel: Level;
  /** Who set `level` last; null: nobody (the default). */
  setBy: ClassificationSetter | null;
  /** Finding type → how many were found so far. */
  findings: Record<string, number>;
}

/** A subject's classification; the configured default when it has no row. */
export async function levelOf(db: DbOrTx, kind: ClassificationSubjectKind, id: string): Promise<Classification> {
  const [row] = await db
    .select()
    .from(dataClassifications)
    .where(and(eq(dataClassifications.subjectKind, kind), eq(dataClassifications.subjectId, id)))
    .limit(1);
  const fallback = defaultLevel();
  if (!row) return { level: fallback, declaredLevel: fallback, setBy: null, findings: {} };
  return { level: row.level as Level, declaredLevel: (row.declaredLevel ?? fallback) as Level, setBy: row.setBy, findings: row.findings };
}

/**
 * What the detector found: adds the counts to the subject's and raises its level to at least `level`
 * (a subject without a row starts from the default level). Never lowers; the upsert is one statement, so
 * two raises at once both count. Returns where the level was and where it is now.
 */
export async function raiseLevel(tx: DbOrTx, kind: ClassificationSubjectKind, id: string, level: Level, findings: Record<string, number>): Promise<{ from: Level; to: Level }> {
  const [before] = await tx
    .select({ level: dataClassifications.level })
    .from(dataClassifications)
    .where(and(eq(dataClassifications.subjectKind, kind), eq(dataClassifications.subjectId, id)));
  const from = (before?.level ?? defaultLevel()) as Level;
  const start = Math.max(level, defaultLevel());
  await tx
    .insert(dataClassifications)
    .values({ subjectKind: kind, subjectId: id, level: start, setBy: 'detector', findings })
    .onConflictDoUpdate({
      target: [dataClassifications.subjectKind, dataClassifications.subjectId],
      set: {
        level: sql`GREATEST(${dataClassifications.level}, excluded.level)`,
        setBy: sql`CASE WHEN excluded.level > ${dataClassifications.level} THEN 'detector' ELSE ${dataClassifications.setBy} END`,
        findings: sql`(SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb) FROM (
          SELECT key AS k, sum(value::bigint) AS n FROM (
            SELECT * FROM jsonb_each_text(${dataClassifications.findings}) UNION ALL SELECT * FROM jsonb_each_text(excluded.findings)
          ) e GROUP BY key) t)`,
        updatedAt: sql`now()`,
      },
    });
  return { from, to: Math.max(from, level) as Level };
}

/**
 * The detector raised a subject's level: on the record (who caused it, from and to, the finding types
 * and counts; never a value), so a level never changes unseen. `cause` says what else raised it, when not
 * the detector's findings (e.g. a chat turn given passages of a classified knowledge base: ids only).
 */
export async function raiseLevelAudited(
  tx: DbOrTx,
  actorUserId: string | null,
  kind: ClassificationSubjectKind,
  id: string,
  level: Level,
  findings: Record<string, number>,
  cause?: { by: string } & Record<string, unknown>,
): Promise<{ from: Level; to: Level }> {
  const moved = await raiseLevel(tx, kind, id, level, findings);
  if (moved.to > moved.from)
    await writeAudit(tx, {
      actorUserId,
      action: 'classification.raised',
      target: `${kind}:${id}`,
      outcome: 'success',
      detail: { kind, id, from: levelName(moved.from), to: levelName(moved.to), findings, by: 'detector', ...cause },
    });
  return moved;
}

/**
 * A person sets the level explicitly (audited by the caller's mutation). `floor`: the least the subject may
 * go to: what its recorded findings imply, for a user; nothing for an admin. The declared level is kept
 * as given, so routing follows what the person said while the subject's level keeps what it holds.
 */
export async function setLevel(tx: DbOrTx, kind: ClassificationSubjectKind, id: string, declared: Level, by: 'user' | 'admin', floor: Level = 0): Promise<Level> {
  const level = Math.max(declared, floor) as Level;
  await tx
    .insert(dataClassifications)
    .values({ subjectKind: kind, subjectId: id, level, declaredLevel: declared, setBy: by })
    .onConflictDoUpdate({
      target: [dataClassifications.subjectKind, dataClassifications.subjectId],
      set: { level, declaredLevel: declared, setBy: by, updatedAt: sql`now()` },
    });
  return level;
}
