import { and, eq, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { datasets, jobs, type Role } from '../../db/schema';
import { DomainError } from '../../core/errors';
import type { DbOrTx } from '../../db/types';

export type Caller = { id: string; role: Role };
export type JobRow = typeof jobs.$inferSelect;

/**
 * Who sees which job: engineers, admins and viewers see every job (they run and watch the fleet); anyone
 * else only their own. The condition goes into every query, so another user's job id is simply not found.
 */
export function jobScope(caller: Caller): SQL | undefined {
  return caller.role === 'user' ? eq(jobs.ownerId, caller.id) : undefined;
}

export async function loadJob(db: DbOrTx, caller: Caller, id: string): Promise<JobRow> {
  const [row] = await db.select().from(jobs).where(and(eq(jobs.id, id), jobScope(caller)));
  if (!row) throw new DomainError('NOT_FOUND', 'Job not found');
  return row;
}

/**
 * The one rule for acting on a job (cancel it, override its quality gate, promote what it produced):
 * its owner or an admin. Stopping someone's training costs them hours, and accepting or promoting their
 * result is vouching for it; every engineer may still watch every job.
 */
export function assertMayControl(caller: Caller, job: JobRow): void {
  if (caller.role !== 'admin' && job.ownerId !== caller.id) throw new DomainError('FORBIDDEN', 'Only the owner of this job or an admin may do this');
}

/** A dataset may be used by its owner or an admin, the rule the datasets pages apply; others get "not found". */
export async function usableDataset(db: Db, caller: Caller, datasetId: string, field: string) {
  const [row] = await db
    .select({ id: datasets.id, name: datasets.name, rows: datasets.rows, split: datasets.split })
    .from(datasets)
    .where(and(eq(datasets.id, datasetId), caller.role === 'admin' ? undefined : eq(datasets.ownerId, caller.id)));
  if (!row) throw new DomainError('NOT_FOUND', `${field}: dataset not found`);
  return row;
}
