import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../../db/client';
import { jobs, modelVersions } from '../../db/schema';
import type { DbOrTx } from '../../db/types';
import { DomainError } from '../../core/errors';
import type { JobRow } from './access';
import { checkpointStepOf, settleTrainerExit } from './exit';
import type { FollowOutcome } from './follower';
import { JobLogIngest, type TrainerOutcome } from './ingest';
import { writeTrainerInput, type TrainerInput } from './inputs';
import { publishJobUpdate } from './live';
import { isKeyOf, type ArtifactStore, type ModelArtifact } from '../../artifacts';

/**
 * Trainers on other hosts: a job placed on a node other than the worker's own is run by that node's
 * agent. A remote one (`enclave agent --join`) has no database and no master key and calls these over
 * the control API (agent-http.ts); one sharing the database calls them in process (db-trainer-client.ts).
 * The control plane's side of it:
 *   - the job row says so (progress.runBy 'agent'; attempts counts launches, one per hand-over);
 *   - the agent lists its jobs (listTrainerAssignments), downloads the plaintext inputs the trainer reads
 *     (openTrainerInput: over TLS, only for a job running on its node), starts the trainer detached, and
 *     reports the trainer's log bytes as it grows (ingestTrainerReport), the same bytes a worker would
 *     read from a local log, so both are counted by one JobLogIngest;
 *   - the trainer's exit, reported with its last bytes, is settled as for a local trainer: done registers
 *     the output, a crash hands the job over again with the last checkpoint (a new attempt).
 * Output paths (adapter, checkpoints) are on the agent's host, like model locations.
 */

const RUN_BY_AGENT = 'agent';

export const isRunByAgent = (job: Pick<JobRow, 'progress'>) => (job.progress as { runBy?: string }).runBy === RUN_BY_AGENT;

/** What an agent needs to run one job; paths it builds itself under its own data directory. */
export interface TrainerAssignment {
  jobId: string;
  kind: 'finetune' | 'quantize';
  spec: Record<string, unknown>;
  /** The base (fine-tune) or source (quantization) model's location, as the fleet's shared storage names it. */
  baseLocation: string;
  /** The base's copy in the artifact store (a job's output): an agent whose host lacks `baseLocation` fetches it (openTrainerBase). */
  baseArtifact?: ModelArtifact;
  /** Launch number: a report for another attempt is refused, a new one means start (again). */
  attempt: number;
  resumeFrom: string | null;
  /** Log bytes the control plane has counted: where the agent's reports continue. */
  logOffset: number;
  pid: number | null;
  gpuIndices: number[];
  cancelRequested: boolean;
}

/** Starts (or restarts from `resumeFrom`) a job on its agent: a new attempt the agent picks up on its next sync. */
export async function handOverToAgent(db: DbOrTx, jobId: string, resumeFrom?: string): Promise<void> {
  const progress = { runBy: RUN_BY_AGENT, resumeFrom: resumeFrom ?? null, attemptStartedAt: Date.now(), attemptStartStep: checkpointStepOf(resumeFrom ?? null), trainerOutcome: {} };
  await db
    .update(jobs)
    .set({ attempts: sql`${jobs.attempts} + 1`, pid: null, error: null, progress: sql`${jobs.progress} || ${JSON.stringify(progress)}::jsonb`, updatedAt: new Date() })
    .where(eq(jobs.id, jobId));
}

export async function listTrainerAssignments(db: Db, nodeName: string): Promise<TrainerAssignment[]> {
  const rows = await db
    .select({ job: jobs, baseLocation: modelVersions.location, artifactKey: modelVersions.artifactKey, sizeBytes: modelVersions.sizeBytes, sha256: modelVersions.sha256 })
    .from(jobs)
    .innerJoin(modelVersions, eq(modelVersions.id, jobs.baseVersionId))
    .where(and(eq(jobs.nodeName, nodeName), eq(jobs.status, 'running'), sql`${jobs.progress}->>'runBy' = ${RUN_BY_AGENT}`));
  return rows.map(({ job, baseLocation, artifactKey, sizeBytes, sha256 }) => {
    const progress = job.progress as { resumeFrom?: string | null; logOffset?: number };
    return {
      jobId: job.id,
      kind: job.kind,
      spec: job.spec,
      baseLocation,
      ...(artifactKey ? { baseArtifact: { key: artifactKey, sizeBytes, sha256 } } : {}),
      attempt: job.attempts,
      resumeFrom: progress.resumeFrom ?? null,
      logOffset: Number(progress.logOffset ?? 0),
      pid: job.pid,
      gpuIndices: job.gpuIndices ?? [],
      cancelRequested: job.cancelRequestedAt !== null,
    };
  });
}

/** The job, if it is running on this node by its agent; otherwise a 404 that says nothing about other nodes' jobs. */
export async function agentJob(db: DbOrTx, nodeName: string, jobId: string): Promise<JobRow> {
  const [job] = await db.select().from(jobs).where(and(eq(jobs.id, jobId), eq(jobs.nodeName, nodeName)));
  if (!job || !isRunByAgent(job)) throw new DomainError('NOT_FOUND', 'No such job on this node');
  return job;
}

/**
 * The key of a running job's base artifact (or of one of its files, for a directory) this node may read:
 * the control API streams it to a joined agent whose host lacks the base. A DomainError for anything else.
 */
export async function trainerBaseKey(db: Db, nodeName: string, jobId: string, key: string | null): Promise<string> {
  const job = await agentJob(db, nodeName, jobId);
  if (job.status !== 'running') throw new DomainError('CONFLICT', `The job is ${job.status}: its base is no longer handed out`);
  const [base] = await db.select({ key: modelVersions.artifactKey }).from(modelVersions).where(eq(modelVersions.id, job.baseVersionId!));
  if (!base?.key) throw new DomainError('NOT_FOUND', "This job's base has no copy in the artifact store: it must be at its location on this host");
  const wanted = key ?? base.key;
  let allowed: boolean;
  try {
    allowed = isKeyOf(wanted, [{ key: base.key }]);
  } catch {
    throw new DomainError('BAD_REQUEST', 'key: not an artifact key');
  }
  if (!allowed) throw new DomainError('NOT_FOUND', `No artifact ${wanted.slice(0, 200)} for this job`);
  return wanted;
}

/** One plaintext input of a running job, written to a private temporary file for the caller to stream and delete. */
export async function openTrainerInput(
  db: Db,
  deps: { masterKey: Buffer; dataDir: string },
  nodeName: string,
  jobId: string,
  input: TrainerInput,
): Promise<{ file: string; rows: number }> {
  const job = await agentJob(db, nodeName, jobId);
  if (job.status !== 'running') throw new DomainError('CONFLICT', `The job is ${job.status}: its inputs are no longer handed out`);
  const tmpDir = path.join(deps.dataDir, 'tmp');
  fs.mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  const file = path.join(tmpDir, `job-input-${randomUUID()}`);
  try {
    return { file, rows: await writeTrainerInput(db, deps, job, input, file) };
  } catch (e) {
    fs.rmSync(file, { force: true });
    throw e;
  }
}

/** 512 KiB of log per report (base64 in JSON: about 700 KB); an agent behind sends several. */
export const REPORT_MAX_BYTES = 512 * 1024;

export const trainerReportSchema = z
  .object({
    attempt: z.number().int().min(1),
    /** Where `data` starts in the trainer's log. */
    offset: z.number().int().min(0),
    /** The log's bytes, base64: whole lines, and the unterminated rest once the trainer has exited. */
    data: z.string().max(Math.ceil(REPORT_MAX_BYTES / 3) * 4).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64'),
    pid: z.number().int().positive().optional(),
    logPath: z.string().max(1000).optional(),
    exit: z.object({ code: z.number().int().nullable(), signal: z.string().max(20).nullable() }).strict().optional(),
    /** The agent could not start the trainer at all (inputs, spawn): the job fails with this. */
    error: z.string().max(4000).optional(),
  })
  .strict();
export type TrainerReport = z.infer<typeof trainerReportSchema>;

/**
 * Counts an agent's report on one of its jobs: the log bytes past what is already counted (a report
 * repeated after a lost answer counts once), the pid, and on exit the settlement. Answers the offset now
 * counted and whether a cancel was asked for, so the agent stops the trainer.
 */
export async function ingestTrainerReport(
  db: Db,
  nodeName: string,
  jobId: string,
  report: TrainerReport,
  /** `artifacts`: where a finished job's outputs are sealed, when this host holds them (an agent sharing the database, or shared storage). */
  opts: { maxResumes: number; artifacts?: ArtifactStore },
): Promise<{ offset: number; cancel: boolean }> {
  const counted = await db.transaction(async (tx) => {
    // One report of a job at a time: two would both start from the same counted offset.
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`enclave:job-report:${jobId}`}))`);
    const job = await agentJob(tx, nodeName, jobId);
    if (job.status !== 'running' || job.attempts !== report.attempt) {
      throw new DomainError('CONFLICT', `The job has moved on (${job.status}, attempt ${job.attempts}): attempt ${report.attempt} is over`);
    }
    const progress = job.progress as { logOffset?: number; attemptStartedAt?: number; attemptStartStep?: number; trainerOutcome?: TrainerOutcome };
    const expected = Number(progress.logOffset ?? 0);
    if (report.offset > expected) throw new DomainError('CONFLICT', `The log is counted up to byte ${expected}: report from there`);
    const bytes = Buffer.from(report.data, 'base64');
    const fresh = bytes.subarray(Math.min(bytes.length, expected - report.offset));
    const ingest = new JobLogIngest(jobId, { tail: job.logTail, startStep: Number(progress.attemptStartStep ?? 0), startedAt: Number(progress.attemptStartedAt ?? job.startedAt?.getTime() ?? Date.now()) });
    ingest.push(fresh);
    const ending = report.exit !== undefined || report.error !== undefined;
    if (ending) ingest.end();
    if (report.error) ingest.note(`agent on ${nodeName}: ${report.error.slice(0, 500)}`);
    const offset = expected + fresh.length;
    // Each report is read on its own: what the attempt's output said so far (its last eval, a done line
    // printed before the process exited) is kept with the row until the exit is settled.
    const outcome: TrainerOutcome = { ...progress.trainerOutcome, ...ingest.outcome };
    const { cancel, update } = await ingest.flush(tx, offset, { ...(report.pid ? { pid: report.pid } : {}), ...(report.logPath ? { logPath: report.logPath } : {}) }, { trainerOutcome: outcome });
    return { offset, cancel, update, outcome, ending };
  });
  if (counted.update) await publishJobUpdate(jobId, counted.update);
  if (counted.ending) {
    const outcome: FollowOutcome = {
      exit: report.exit ?? { code: null, signal: null },
      cancelled: counted.cancel,
      ...counted.outcome,
      ...(report.error ? { error: `the agent on ${nodeName} could not run the trainer: ${report.error.slice(0, 2000)}` } : {}),
    };
    const next = await settleTrainerExit(db, jobId, outcome, opts);
    if (next.kind === 'relaunch') {
      await handOverToAgent(db, jobId, next.resumeFrom);
      await publishJobUpdate(jobId, { status: 'running' });
    }
  }
  return { offset: counted.offset, cancel: counted.cancel };
}
