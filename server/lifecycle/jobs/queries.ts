import { and, asc, desc, eq, gt, inArray, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { jobMetrics, jobs, users, type JobKind, type JobStatus } from '../../db/schema';
import { readLogTail } from '../../process/detached-process';
import { DomainError } from '../../core/errors';
import { assertMayControl, jobScope, loadJob, type Caller, type JobRow } from './access';
import { publishJobUpdate } from './live';
import { afterCommit } from '../../db/after-commit';

/** A job as the pages read it: plain JSON, no pid or log path (host details stay on the server). */
export function jobView(row: JobRow, ownerEmail: string | null = null) {
  const { pid: _pid, logPath: _logPath, gateOverriddenBy: _by, ...rest } = row;
  return { ...rest, ownerEmail };
}
export type JobView = ReturnType<typeof jobView>;

export async function listJobs(db: Db, caller: Caller, filter: { kind?: JobKind; status?: JobStatus; limit?: number } = {}) {
  const rows = await db
    .select({ job: jobs, ownerEmail: users.email })
    .from(jobs)
    .innerJoin(users, eq(users.id, jobs.ownerId))
    .where(and(jobScope(caller), filter.kind ? eq(jobs.kind, filter.kind) : undefined, filter.status ? eq(jobs.status, filter.status) : undefined))
    .orderBy(desc(jobs.createdAt))
    .limit(filter.limit ?? 200);
  return rows.map((r) => jobView(r.job, r.ownerEmail));
}

export async function getJob(db: Db, caller: Caller, id: string) {
  const [row] = await db
    .select({ job: jobs, ownerEmail: users.email })
    .from(jobs)
    .innerJoin(users, eq(users.id, jobs.ownerId))
    .where(and(eq(jobs.id, id), jobScope(caller)));
  if (!row) throw new DomainError('NOT_FOUND', 'Job not found');
  return jobView(row.job, row.ownerEmail);
}

/** Step and eval points for the loss and learning-rate charts; `sinceStep` lets a page fetch only what is new. */
export async function jobMetricSeries(db: Db, caller: Caller, id: string, sinceStep?: number) {
  await loadJob(db, caller, id);
  return db
    .select({ kind: jobMetrics.kind, step: jobMetrics.step, at: jobMetrics.at, values: jobMetrics.values })
    .from(jobMetrics)
    .where(and(eq(jobMetrics.jobId, id), sinceStep === undefined ? undefined : gt(jobMetrics.step, sinceStep)))
    .orderBy(asc(jobMetrics.step), asc(jobMetrics.id))
    .limit(20_000);
}

/** The last lines of the trainer's log: from the file while this host has it, else the row's copy. */
export async function jobLogs(db: Db, caller: Caller, id: string, lines = 200) {
  const job = await loadJob(db, caller, id);
  const fromFile = job.logPath ? readLogTail(job.logPath, lines) : [];
  return { lines: fromFile.length ? fromFile : job.logTail };
}

/**
 * Asks for a job to stop. A job with no process yet is cancelled here and now; a running one is stopped by
 * the worker that follows it (it sees cancel_requested_at, stops the process group, frees the GPUs).
 */
export async function cancelJob(db: Db, caller: Caller, id: string) {
  const job = await loadJob(db, caller, id);
  assertMayControl(caller, job);
  if (['succeeded', 'failed', 'cancelled'].includes(job.status)) throw new DomainError('CONFLICT', `The job has already ${job.status === 'cancelled' ? 'been cancelled' : job.status}`);
  const now = new Date();
  const [notStarted] = await db
    .update(jobs)
    .set({ status: 'cancelled', cancelRequestedAt: now, finishedAt: now, updatedAt: now, waitingReason: null })
    .where(and(eq(jobs.id, id), inArray(jobs.status, ['queued', 'waiting'])))
    .returning({ id: jobs.id });
  if (!notStarted) await db.update(jobs).set({ cancelRequestedAt: now, updatedAt: now }).where(and(eq(jobs.id, id), isNull(jobs.cancelRequestedAt)));
  // A page refreshing on the message must read the committed row.
  await afterCommit(() => publishJobUpdate(id, { cancelRequested: true, ...(notStarted ? { status: 'cancelled' } : {}) }));
  return { id, status: notStarted ? 'cancelled' : 'cancelling' };
}
