import { randomUUID } from 'node:crypto';
import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { gpuNodes, jobs, modelVersions } from '../../db/schema';
import { errorMessage, log } from '../../core/log';
import { enqueue } from '../../core/queues';
import { redis, redisKey } from '../../core/redis';
import { adoptProcess, goneProcess, isProcessOf, spawnDetached, type DetachedProcess } from '../../process/detached-process';
import type { writeDatasetPart } from '../datasets/store';
import { trainerCommand, trainerInvocation, type TrainerConfig } from '../finetune/command';
import type { JobRow } from './access';
import { checkpointStepOf, MAX_RESUMES, settleTrainerExit, type ExitDecision } from './exit';
import { markCancelled, markFailed } from './finish';
import { JobFollower, type FollowOutcome } from './follower';
import { publishJobUpdate } from './live';
import { prepareTrainerInputs, writeTrainerInput } from './inputs';
import { placeAndAllocate } from '../../gpu/placement/jobs';
import { handOverToAgent, isRunByAgent } from './remote';
import { isGgufTarget } from './quantize-spec';
import { runGgufQuantize } from './quantize-gguf';
import { fileSize, jobWorkspace, prepareWorkspace, removeDatasetCopies } from './workspace';
import { localModelPath, storeFor, type ArtifactStore } from '../../artifacts';

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
  /** A job on an agent's host fails after this long without a report while that node is not healthy. */
  agentSilenceMs: number;
  /**
   * Where outputs are sealed for other hosts and where sources produced elsewhere are fetched from
   * (default with a master key: the configured store, see storeFor).
   */
  artifacts?: ArtifactStore;
}

export const TRAINING_DEFAULTS = { pollMs: 250, flushMs: 1_000, stopGraceMs: 10_000, leaseMs: 15_000, sweepMs: 10_000, maxResumes: MAX_RESUMES, agentSilenceMs: 600_000 } as const;

const TERMINAL = ['succeeded', 'failed', 'cancelled'];

/** Renew the lease if it is ours, take it back if it lapsed unclaimed; 0 when another worker holds it. */
const RENEW_LEASE = `local v = redis.call('get', KEYS[1])
if v == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
if not v then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;

/**
 * Runs fine-tune and quantization jobs for one worker. Each job is claimed with a Redis lease while this
 * worker follows it, so two workers never drive one job, and a worker that dies frees its jobs once the
 * lease runs out: the sweep of any worker then adopts a trainer that is still running (by pid, checked
 * against its command line) or restarts one that died from its last checkpoint. A job placed on another
 * node is handed to that node's agent instead (remote.ts).
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

  /**
   * Every job not finished gets (re)queued: queued ones whose enqueue was lost, waiting ones to try
   * placement again, running ones nobody follows. Jobs run by another node's agent are the agent's; one whose
   * node went silent for `agentSilenceMs` fails, so its GPUs are not held forever.
   */
  async sweep(): Promise<void> {
    const rows = await this.deps.db
      .select({ id: jobs.id, status: jobs.status, progress: jobs.progress, updatedAt: jobs.updatedAt, nodeName: jobs.nodeName })
      .from(jobs)
      .where(inArray(jobs.status, ['queued', 'waiting', 'running']));
    for (const r of rows) {
      if (this.closed) return;
      if (this.busy.has(r.id)) continue;
      if (r.status === 'running' && isRunByAgent(r)) {
        await this.failIfAgentSilent(r.id, r.nodeName, r.updatedAt);
        continue;
      }
      if (r.status === 'running' && (await redis().exists(this.leaseKey(r.id)))) continue;
      await enqueue('training', { jobId: r.id });
    }
  }

  private async failIfAgentSilent(jobId: string, nodeName: string | null, updatedAt: Date): Promise<void> {
    if (Date.now() - updatedAt.getTime() < this.deps.agentSilenceMs) return;
    const [node] = await this.deps.db.select({ status: gpuNodes.status }).from(gpuNodes).where(eq(gpuNodes.name, nodeName ?? ''));
    if (node?.status === 'healthy') return;
    // Only if still silent: a report that lands meanwhile moves updated_at.
    const cutoff = new Date(Date.now() - this.deps.agentSilenceMs);
    const [silent] = await this.deps.db.select({ id: jobs.id }).from(jobs).where(and(eq(jobs.id, jobId), eq(jobs.status, 'running'), lt(jobs.updatedAt, cutoff)));
    if (!silent) return;
    await markFailed(this.deps.db, jobId, `the agent on ${nodeName} stopped reporting (node ${node?.status ?? 'gone'}, nothing for ${Math.round(this.deps.agentSilenceMs / 60_000)} min); its trainer may still be running there`);
  }

  /** The queue handler: do whatever the job's row says is next. */
  async run(jobId: string): Promise<void> {
    if (this.closed || this.busy.has(jobId)) return;
    const [job] = await this.deps.db.select().from(jobs).where(eq(jobs.id, jobId));
    if (!job || TERMINAL.includes(job.status)) return;
    if (job.cancelRequestedAt && job.status !== 'running') return markCancelled(this.deps.db, job.id);
    // Its trainer runs on another host, driven by that host's agent (remote.ts).
    if (job.status === 'running' && isRunByAgent(job)) return;
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

  /**
   * Renews only leases still ours (one that lapsed and nobody took is taken back). A lease another worker
   * holds means this one stalled past it and that one drives the job now: this worker lets go (its trainer
   * keeps running, followed there) instead of ingesting the same log beside it. A GGUF run that lost its
   * lease is stopped by its attempt fence (quantize-gguf.ts).
   */
  private async renewLeases(): Promise<void> {
    for (const id of this.busy) {
      const kept = await redis()
        .eval(RENEW_LEASE, 1, this.leaseKey(id), this.id, String(this.deps.leaseMs))
        .catch(() => undefined);
      if (kept !== 0) continue;
      log.warn('training job lease taken by another worker: letting go', { job: id });
      this.followers.get(id)?.follower.detach();
      this.busy.delete(id);
    }
  }

  /** Places the job; without room it waits with the planner's reasons and the sweep tries again. */
  private async startFresh(job: JobRow): Promise<boolean> {
    const gpus = Number((job.spec as { gpus?: number }).gpus ?? 1);
    const claimed = await this.deps.db.transaction(async (tx) => {
      const choice = await placeAndAllocate(tx, job.id, { memoryBytes: job.memoryBytes ?? 0, gpus });
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
      // Another node: its agent starts the trainer (remote.ts).
      if (row.nodeName !== this.deps.runnerNode) await handOverToAgent(tx, row.id);
      return { row };
    }).catch((e) => (e instanceof CancelledBeforeStart ? null : Promise.reject(e)));
    if (!claimed) return false;
    if ('waiting' in claimed) {
      if (job.status !== 'waiting' || job.waitingReason !== claimed.waiting) await publishJobUpdate(job.id, { status: 'waiting', waitingReason: claimed.waiting });
      return false;
    }
    await publishJobUpdate(job.id, { status: 'running', nodeName: claimed.row.nodeName, gpuIndices: claimed.row.gpuIndices });
    if (claimed.row.nodeName !== this.deps.runnerNode) {
      log.info('training job handed to its node\'s agent', { job: job.id, node: claimed.row.nodeName });
      return false;
    }
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
    const { masterKey } = this.deps;
    if (!masterKey) throw new Error('this worker has no master key to open datasets');
    const inputs = await prepareTrainerInputs(job, ws, (input, out) => writeTrainerInput(this.deps.db, { ...this.deps, masterKey }, job, input, out));
    // A base produced on another host (a merged model, a checkpoint) comes from the artifact store into
    // this host's model cache; one this host has (or a version registered by path) is read where it is.
    const store = this.artifacts();
    const baseModel =
      store && source.artifactKey ? await localModelPath(this.deps.dataDir, store, source.location, { key: source.artifactKey, sizeBytes: source.sizeBytes, sha256: source.sha256 }) : source.location;
    return trainerInvocation(job, { ...inputs, baseModel, outputDir: ws.output, resumeFrom }).args;
  }

  private artifacts(): ArtifactStore | undefined {
    return this.deps.artifacts ?? (this.deps.masterKey ? storeFor(this.deps.dataDir, this.deps.db, this.deps.masterKey) : undefined);
  }

  /** A running job nobody follows: adopt its trainer if it still runs, else replay its log and handle the exit. */
  private recover(job: JobRow): boolean {
    const logPath = job.logPath ?? jobWorkspace(this.deps.dataDir, job.id).log;
    const ours = job.pid !== null && isProcessOf(job.pid, job.id);
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
    let next: ExitDecision = { kind: 'ended' };
    try {
      next = await settleTrainerExit(this.deps.db, jobId, outcome, { maxResumes: this.deps.maxResumes, giveUp: this.closed, artifacts: this.artifacts() });
    } finally {
      if (next.kind === 'ended') await this.release(jobId);
    }
    if (next.kind === 'relaunch') await this.launch(next.row, next.resumeFrom);
  }

  /** Ends a job: writes its final state, then lets it go. */
  private async terminal(jobId: string, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } finally {
      await this.release(jobId);
    }
  }

  /** A job this worker no longer drives: the plaintext dataset copies go, and so does the claim. */
  private async release(jobId: string): Promise<void> {
    removeDatasetCopies(jobWorkspace(this.deps.dataDir, jobId));
    this.busy.delete(jobId);
    await this.unlease(jobId);
  }
}

class CancelledBeforeStart extends Error {}
