import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { RETENTION_SUBJECT_KINDS, retentionPolicies, type RetentionSubjectKind } from '../../db/schema';
import { DomainError } from '../../core/errors';
import { classificationLevels } from './levels';

export interface RetentionPolicyView {
  subjectKind: RetentionSubjectKind;
  level: number;
  levelName: string;
  /** null: kept forever (also the case of a level no admin has set). */
  keepDays: number | null;
  updatedAt: Date | null;
}

export const MAX_KEEP_DAYS = 36_500;

/** One row per kind and level (8), those without a stored policy shown as kept forever. */
export async function listRetentionPolicies(db: Db): Promise<{ policies: RetentionPolicyView[]; levels: string[]; defaultLevel: number }> {
  const { names, defaultLevel } = classificationLevels();
  const stored = await db.select().from(retentionPolicies).orderBy(asc(retentionPolicies.subjectKind), asc(retentionPolicies.level));
  const policies = RETENTION_SUBJECT_KINDS.flatMap((subjectKind) =>
    names.map((levelName, level) => {
      const row = stored.find((r) => r.subjectKind === subjectKind && r.level === level);
      return { subjectKind, level, levelName, keepDays: row?.keepDays ?? null, updatedAt: row?.updatedAt ?? null };
    }),
  );
  return { policies, levels: names, defaultLevel };
}

/** Sets how long one kind of content at one level is kept; `keepDays` null keeps it forever. */
export async function setRetentionPolicy(
  db: Db,
  input: { subjectKind: RetentionSubjectKind; level: number; keepDays: number | null; updatedBy: string },
): Promise<RetentionPolicyView> {
  const { names } = classificationLevels();
  if (!Number.isInteger(input.level) || input.level < 0 || input.level >= names.length)
    throw new DomainError('BAD_REQUEST', `level: one of 0..${names.length - 1} (${names.join(', ')})`);
  if (input.keepDays !== null && (!Number.isInteger(input.keepDays) || input.keepDays < 1 || input.keepDays > MAX_KEEP_DAYS))
    throw new DomainError('BAD_REQUEST', `keepDays: whole days from 1 to ${MAX_KEEP_DAYS}, or null to keep forever`);
  const values = { subjectKind: input.subjectKind, level: input.level, keepDays: input.keepDays, updatedBy: input.updatedBy, updatedAt: new Date() };
  await db
    .insert(retentionPolicies)
    .values(values)
    .onConflictDoUpdate({ target: [retentionPolicies.subjectKind, retentionPolicies.level], set: { keepDays: values.keepDays, updatedBy: values.updatedBy, updatedAt: values.updatedAt } });
  const [row] = await db
    .select()
    .from(retentionPolicies)
    .where(and(eq(retentionPolicies.subjectKind, input.subjectKind), eq(retentionPolicies.level, input.level)));
  return { subjectKind: input.subjectKind, level: input.level, levelName: names[input.level]!, keepDays: row!.keepDays, updatedAt: row!.updatedAt };
}
