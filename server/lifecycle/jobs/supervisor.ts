import { randomUUID } from 'node:crypto';
import { and, eq, gt, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { jobMetrics, jobs, modelVersions } from '../../db/schema';
import { errorMessage, log } from '../../log';
import { enqueue } from '../../queues';
import { redis, redisKey } from '../../redis';
import { adoptProcess, commandLineOf, isAlive, spawnDetached, type DetachedProcess } from '../../runtime/detached-process';
import type { writeDatasetPart } from '../datasets/store';
import { loraSftArgs, quantizeArgs, trainerCommand, type TrainerConfig } from '../finetune/command';
import type { FinetuneSpec } from '../finetune/spec';
import type { JobRow } from './access';
import { finishFinetune, finishHfQuantize, markCancelled, markFailed } from './finish';
import { JobFollower, type FollowOutcome } from './follower';
import { publishJobUpdate } from './live';
import { placeAndAllocate } from './placement';
import { isGgufTarget } from './quantize-spec';
import { runGgufQuantize } from './quantize-gguf';
import { fileSize, jobWorkspace, prepareWorkspace, removeDatasetCopies } from './workspace';
import { BUNDLED_QUALITY_TEXT } from './quality-text';
import fs from 'node:fs';

export interface TrainingDeps {
  db: Db;
  masterKey?: Buffer;
  dataDir: string;
  trainer: TrainerConfig;
  /** This worker's host: trainers it starts run here (see placement.ts). */
  runnerNode: string;
  writeDataset: typeof writeDatasetPart;
  pollMs: number;
  flushMs: number;
  stopGraceMs: number;
  /** How long a job stays claimed by this worker without renewal (a crashed worker's jobs are free after it). */
  leaseMs: number;
  sweepMs: number;
  /** Restarts from a checkpoint after the trainer died without finishing. */
  maxResumes: number;
}

export const TRAINING_DEFAULTS = { pollMs: 250, flushMs: 1_000, stopGraceMs: 10_000, leaseMs: 15_000, sweepMs: 10_000, maxResumes: 3 } as const;

const TERMINAL = ['succeeded', 'failed', 'cancelled'];

/** The step of a transformers checkpoint directory (checkpoint-120 → 120). */
export const checkpointStepOf = (path: string | null) => Number(/checkpoint-(\d+)\/?$/.exec(path ?? '')?.[1] ?? 0);

const exitText = (o: FollowOutcome) => (o.exit.signal ? `signal ${o.exit.signal}` : o.exit.code === null ? 'exit not observed (adopted process)' : `exit code ${o.exit.code}`);

/** A process already gone when this worker looked: its log is replayed, then it is handled as an exit. */
function goneProcess(pid: number, logPath: string): DetachedProcess {
  return { pid, logPath, adopted: true, exited: Promise.resolve({ code: null, signal: null }), alive: () => false, stop: async () => {}, release: () => {} };
}

/**
 * Runs fine-tune and quantization jobs for one worker. Each job is claimed with a Redis lease while this
 * worker follows it, so two workers never drive one job, and a worker that dies frees its jobs once the
 * lease runs out: the sweep of any worker then adopts a trainer that is still running (by pid, checked
 * against its command line) or restarts one that died from its last checkpoint.
 */
export class TrainingSupervisor {
  private readonly id = randomUUID();
  private readonly followers = new Map<string, { follower: JobFollower; done: Promise<void> }>();
  private readonly busy = new Set<string>();
  private timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(private readonly deps: TrainingDeps) {}

  start(): void {
    const sweep = () => void this.sweep().catch((e) => log.warn('training sweep failed', { error: errorMessage(e) }));
    sweep();
    this.timers.push(setInterval(sweep, this.deps.sweepMs), setInterval(() => void this.renewLeases(), Math.max(100, this.deps.leaseMs / 3)));
  }

  /** Stops following (trainers keep running, handed over to the next worker) and frees this worker's leases. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    const running = [...this.followers.entries()];
    for (const [, f] of running) f.follower.detach();
    await Promise.all(running.map(([, f]) => f.done));
    await Promise.all(running.map(([id]) => this.unlease(id)));
  }

  /** Every job not finished gets (re)queued: queued ones whose enqueue was lost, waiting ones to try placement again, running ones nobody follows. */
  async sweep(): Promise<void> {
    const rows = await this.deps.db.select({ id: jobs.id, status: jobs.status }).from(jobs).where(inArray(jobs.status, ['queued', 'waiting', 'running']));
    for (const r of rows) {
      if (this.closed) return;
      if (this.busy.has(r.id)) continue;
      if (r.status === 'running' && (await redis().exists(this.leaseKey(r.id)))) continue;
      await enqueue('training', { jobId: r.id }, r.id);
    }
  }

  /** The queue handler: do whatever the job's row says is next. */
  async run(jobId: string): Promise<void> {
    if (this.closed || this.busy.has(jobId)) return;
    const [job] = await this.deps.db.select().from(jobs).where(eq(jobs.id, jobId));
    if (!job || TERMINAL.includes(job.status)) return;
    if (job.cancelRequestedAt && job.status !== 'running') return markCancelled(this.deps.db, job.id);
    if (!(await this.lease(job.id))) return;
    this.busy.add(job.id);
    let handedToFollower = false;
    try {
      if (job.kind === 'quantize' && isGgufTarget(String(job.spec.target))) {
        await runGgufQuantize(this.deps, job);
      } else if (job.status === 'running') {
        handedToFollower = this.recover(job);
      } else {
        handedToFollower = await this.startFresh(job);
      }
    } catch (e) {
      log.error('training job failed to run', { job: job.id, error: errorMessage(e) });
      await markFailed(this.deps.db, job.id, `could not run the job: ${errorMessage(e)}`);
    } finally {
      if (!handedToFollower) {
        this.busy.delete(job.id);
        await this.unlease(job.id);
      }
    }
  }

  private leaseKey = (jobId: string) => redisKey('job', jobId, 'lease');

  private async lease(jobId: string): Promise<boolean> {
    const key = this.leaseKey(jobId);
    if ((await redis().set(key, this.id, 'PX', this.deps.leaseMs, 'NX')) === 'OK') return true;
    return (await redis().get(key)) === this.id;
  }

  private async unlease(jobId: string): Promise<void> {
    const key = this.leaseKey(jobId);
    // Only our own lease: compare and delete in one step.
    await redis().eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0", 1, key, this.id).catch(() => undefined);
  }

  private async renewLeases(): Promise<void> {
    for (const id of this.busy) await redis().pexpire(this.leaseKey(id), this.deps.leaseMs).catch(() => undefined);
  }

  /** Places the job; without room it waits with the planner's reasons and the sweep tries again. */
  private async startFresh(job: JobRow): Promise<boolean> {
    const gpus = Number((job.spec as { gpus?: number }).gpus ?? 1);
    const claimed = await this.deps.db.transaction(async (tx) => {
      const choice = await placeAndAllocate(tx, job.id, { memoryBytes: job.memoryBytes ?? 0, gpus, runnerNode: this.deps.runnerNode });
      if (!choice.feasible) {
        const reason = choice.reasons.join('; ');
        await tx.update(jobs).set({ status: 'waiting', waitingReason: reason, updatedAt: new Date() }).where(and(eq(jobs.id, job.id), inArray(jobs.status, ['queued', 'waiting'])));
        return { waiting: reason };
      }
      const [row] = await tx
        .update(jobs)
        .set({ status: 'running', waitingReason: null, nodeName: choice.node, gpuIndices: choice.gpus, startedAt: new Date(), updatedAt: new Date() })
        .where(and(eq(jobs.id, job.id), inArray(jobs.status, ['queued', 'waiting'])))
        .returning();
      // Cancelled meanwhile: throwing rolls the allocation back.
      if (!row) throw new CancelledBeforeStart();
      return { row };
    }).catch((e) => (e instanceof CancelledBeforeStart ? null : Promise.reject(e)));
    if (!claimed) return false;
    if ('waiting' in claimed) {
      if (job.status !== 'waiting' || job.waitingReason !== claimed.waiting) await publishJobUpdate(job.id, { status: 'waiting', waitingReason: claimed.waiting });
      return false;
    }
    await publishJobUpdate(job.id, { status: 'running', nodeName: claimed.row.nodeName, gpuIndices: claimed.row.gpuIndices });
    return this.launch(claimed.row, undefined);
  }

  /** Writes the dataset copies, spawns the trainer detached on the job's GPUs and follows it. */
  private async launch(job: JobRow, resumeFrom: string | undefined): Promise<boolean> {
    const ws = jobWorkspace(this.deps.dataDir, job.id);
    prepareWorkspace(ws);
    let args: string[];
    try {
      args = await this.trainerArgs(job, ws, resumeFrom);
    } catch (e) {
      await this.terminal(job.id, () => markFailed(this.deps.db, job.id, `could not prepare the trainer's input: ${errorMessage(e)}`));
      return false;
    }
    const script = job.kind === 'finetune' ? 'lora_sft.py' : 'quantize.py';
    const offset = fileSize(ws.log);
    let proc: DetachedProcess;
    try {
      proc = spawnDetached({ ...trainerCommand(script, args, this.deps.trainer), env: { CUDA_VISIBLE_DEVICES: (job.gpuIndices ?? []).join(',') } }, ws.log);
    } catch (e) {
      await this.terminal(job.id, () => markFailed(this.deps.db, job.id, `could not start the trainer: ${errorMessage(e)}`));
      return false;
    }
    const [row] = await this.deps.db
      .update(jobs)
      .set({ pid: proc.pid, logPath: ws.log, attempts: sql`${jobs.attempts} + 1`, error: null, updatedAt: new Date() })
      .where(eq(jobs.id, job.id))
      .returning();
    this.follow(row!, proc, offset, checkpointStepOf(resumeFrom ?? null));
    return true;
  }

  private async trainerArgs(job: JobRow, ws: ReturnType<typeof jobWorkspace>, resumeFrom: string | undefined): Promise<string[]> {
    const [source] = await this.deps.db.select().from(modelVersions).where(eq(modelVersions.id, job.baseVersionId!));
    if (!source) throw new Error('the base model version no longer exists');
    const write = (datasetId: string, part: 'train' | 'heldOut', out: string, format: 'jsonl-messages' | 'text') => {
      if (!this.deps.masterKey) throw new Error('this worker has no master key to open datasets');
      return this.deps.writeDataset(this.deps.db, this.deps.masterKey, datasetId, part, out, format, { dataDir: this.deps.dataDir });
    };
    if (job.kind === 'finetune') {
      const spec = job.spec as FinetuneSpec;
      const train = await write(job.datasetId!, 'train', ws.trainData, 'jsonl-messages');
      if (train.rows === 0) throw new Error('the dataset has no training rows');
      const held = await write(job.datasetId!, 'heldOut', ws.evalData, 'jsonl-messages');
      return loraSftArgs(spec, { baseModel: source.location, dataset: ws.trainData, evalDataset: held.rows ? ws.evalData : undefined, outputDir: ws.output, resumeFrom });
    }
    const spec = job.spec as { target: string; evalDatasetId?: string };
    if (spec.evalDatasetId) {
      await write(spec.evalDatasetId, 'heldOut', ws.evalText, 'text');
      await write(spec.evalDatasetId, 'train', ws.calibrationText, 'text');
    } else {
      fs.writeFileSync(ws.evalText, BUNDLED_QUALITY_TEXT, { mode: 0o600 });
      fs.writeFileSync(ws.calibrationText, BUNDLED_QUALITY_TEXT, { mode: 0o600 });
    }
    // quantize.py refuses an existing output directory: a restart starts clean.
    fs.rmSync(ws.output, { recursive: true, force: true });
    return quantizeArgs({ model: source.location, outputDir: ws.output, scheme: spec.target, evalText: ws.evalText, calibrationText: ws.calibrationText });
  }

  /** A running job nobody follows: adopt its trainer if it still runs, else replay its log and handle the exit. */
  private recover(job: JobRow): boolean {
    const logPath = job.logPath ?? jobWorkspace(this.deps.dataDir, job.id).log;
    const ours = job.pid !== null && isAlive(job.pid) && (commandLineOf(job.pid) ?? []).some((a) => a.includes(job.id));
    const proc = ours ? adoptProcess(job.pid!, logPath, this.deps.pollMs) : goneProcess(job.pid ?? 0, logPath);
    log.info(ours ? 'training job adopted' : 'training job found without its trainer', { job: job.id, pid: job.pid });
    const offset = Number((job.progress as { logOffset?: number }).logOffset ?? 0);
    // The ETA counts steps seen by this follower: an adopted trainer is timed from the step it was at.
    this.follow(job, proc, offset, ours ? Number((job.progress as { step?: number }).step ?? 0) : checkpointStepOf(job.lastCheckpoint));
    return true;
  }

  private follow(job: JobRow, proc: DetachedProcess, offset: number, startStep: number): void {
    this.busy.add(job.id);
    const follower = new JobFollower(this.deps.db, job.id, proc.logPath, proc, {
      offset,
      tail: job.logTail,
      startStep,
      pollMs: this.deps.pollMs,
      flushMs: this.deps.flushMs,
      stopGraceMs: this.deps.stopGraceMs,
    });
    const done = follower
      .run()
      .then((outcome) => (outcome ? this.onExit(job.id, outcome) : undefined))
      .catch((e) => {
        log.error('following a training job failed', { job: job.id, error: errorMessage(e) });
        // Let go (the trainer keeps running): the next sweep adopts it again, here or on another worker.
        if (this.followers.get(job.id)?.follower !== follower) return;
        follower.detach();
        this.busy.delete(job.id);
        return this.unlease(job.id);
      })
      .finally(() => {
        if (this.followers.get(job.id)?.follower === follower) this.followers.delete(job.id);
      });
    this.followers.set(job.id, { follower, done });
  }

  private async onExit(jobId: string, outcome: FollowOutcome): Promise<void> {
    const [job] = await this.deps.db.select().from(jobs).where(eq(jobs.id, jobId));
    if (!job) return;
    const db = this.deps.db;
    if (outcome.done) {
      const done = { ...outcome, done: outcome.done };
      return this.terminal(jobId, () => (job.kind === 'finetune' ? finishFinetune(db, job, done) : finishHfQuantize(db, job, done)));
    }
    if (outcome.cancelled || job.cancelRequestedAt) return this.terminal(jobId, () => markCancelled(db, jobId));
    if (outcome.error) return this.terminal(jobId, () => markFailed(db, jobId, outcome.error!));
    const resumes = Math.max(0, job.attempts - 1);
    if (resumes >= this.deps.maxResumes || this.closed) {
      return this.terminal(jobId, () => markFailed(db, jobId, `the trainer stopped without finishing ${job.attempts} times (last: ${exitText(outcome)}); giving up`));
    }
    // Steps after the checkpoint are done again: drop their points so the charts show each step once.
    const from = job.kind === 'finetune' ? (job.lastCheckpoint ?? undefined) : undefined;
    const startStep = checkpointStepOf(from ?? null);
    await db.delete(jobMetrics).where(and(eq(jobMetrics.jobId, jobId), gt(jobMetrics.step, startStep)));
    const note = `trainer stopped (${exitText(outcome)}) without finishing: ${from ? `resuming from checkpoint at step ${startStep}` : 'starting again'} (restart ${resumes + 1} of ${this.deps.maxResumes})`;
    const [row] = await db.update(jobs).set({ logTail: [...job.logTail, note].slice(-50), pid: null, updatedAt: new Date() }).where(eq(jobs.id, jobId)).returning();
    await publishJobUpdate(jobId, { resumed: true, attempts: job.attempts });
    if (!(await this.launch(row!, from))) return;
  }

  /** Ends a job: writes its final state, removes the plaintext dataset copies, frees the claim. */
  private async terminal(jobId: string, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } finally {
      removeDatasetCopies(jobWorkspace(this.deps.dataDir, jobId));
      this.busy.delete(jobId);
      await this.unlease(jobId);
    }
  }
}

class CancelledBeforeStart extends Error {}
