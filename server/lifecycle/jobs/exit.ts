import { and, eq, gt } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { jobMetrics, jobs } from '../../db/schema';
import type { JobRow } from './access';
import { finishFinetune, finishHfQuantize, markCancelled, markFailed } from './finish';
import type { FollowOutcome } from './follower';
import { publishJobUpdate } from './live';
import type { ArtifactStore } from '../../artifacts';

/** The step of a transformers checkpoint directory (checkpoint-120 → 120). */
export const checkpointStepOf = (path: string | null) => Number(/checkpoint-(\d+)\/?$/.exec(path ?? '')?.[1] ?? 0);

const exitText = (o: FollowOutcome) => (o.exit.signal ? `signal ${o.exit.signal}` : o.exit.code === null ? 'exit not observed (adopted process)' : `exit code ${o.exit.code}`);

/** Restarts from a checkpoint after a trainer died without finishing, before the job fails. */
export const MAX_RESUMES = 3;

export type ExitDecision = { kind: 'ended' } | { kind: 'relaunch'; row: JobRow; resumeFrom?: string };

/**
 * What a trainer's end means for its job, written to the row: done registers the output, a cancel or an
 * error event ends it, and any other exit (a crash, an OOM kill) restarts it from its last checkpoint, up
 * to `maxResumes` times. The same decision whether a worker followed the trainer or an agent reported it.
 */
export async function settleTrainerExit(
  db: Db,
  jobId: string,
  outcome: FollowOutcome,
  opts: {
    maxResumes: number;
    giveUp?: boolean;
    /** Where a finished job's outputs are sealed, when this host holds them (see finish.ts). */
    artifacts?: ArtifactStore;
  },
): Promise<ExitDecision> {
  const [job] = await db.select().from(jobs).where(eq(jobs.id, jobId));
  if (!job) return { kind: 'ended' };
  if (outcome.done) {
    const done = { ...outcome, done: outcome.done };
    await (job.kind === 'finetune' ? finishFinetune(db, job, done, opts.artifacts) : finishHfQuantize(db, job, done, opts.artifacts));
    return { kind: 'ended' };
  }
  if (outcome.cancelled || job.cancelRequestedAt) {
    await markCancelled(db, jobId);
    return { kind: 'ended' };
  }
  if (outcome.error) {
    await markFailed(db, jobId, outcome.error);
    return { kind: 'ended' };
  }
  const resumes = Math.max(0, job.attempts - 1);
  if (resumes >= opts.maxResumes || opts.giveUp) {
    await markFailed(db, jobId, `the trainer stopped without finishing ${job.attempts} times (last: ${exitText(outcome)}); giving up`);
    return { kind: 'ended' };
  }
  // Steps after the checkpoint are done again: drop their points so the charts show each step once.
  const from = job.kind === 'finetune' ? (job.lastCheckpoint ?? undefined) : undefined;
  const startStep = checkpointStepOf(from ?? null);
  await db.delete(jobMetrics).where(and(eq(jobMetrics.jobId, jobId), gt(jobMetrics.step, startStep)));
  const note = `trainer stopped (${exitText(outcome)}) without finishing: ${from ? `resuming from checkpoint at step ${startStep}` : 'starting again'} (restart ${resumes + 1} of ${opts.maxResumes})`;
  const [row] = await db.update(jobs).set({ logTail: [...job.logTail, note].slice(-50), pid: null, updatedAt: new Date() }).where(eq(jobs.id, jobId)).returning();
  await publishJobUpdate(jobId, { resumed: true, attempts: job.attempts });
  return { kind: 'relaunch', row: row!, resumeFrom: from };
}
