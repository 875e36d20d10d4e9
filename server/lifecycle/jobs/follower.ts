import fs from 'node:fs';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { jobMetrics, jobs } from '../../db/schema';
import type { ProcessExit } from '../../runtime/engine-process';
import type { DetachedProcess } from '../../runtime/detached-process';
import { etaSeconds, TrainerStreamParser, type DoneEvent, type EvalEvent, type TrainerEvent } from '../finetune/protocol';
import { publishJobUpdate } from './live';

export const LOG_TAIL_LINES = 50;

export interface FollowOutcome {
  exit: ProcessExit;
  done?: DoneEvent;
  error?: string;
  lastEval?: EvalEvent;
  cancelled: boolean;
}

export interface FollowOptions {
  /** Byte offset in the log where this process's output starts (or where an earlier follower stopped). */
  offset: number;
  tail: string[];
  /** The step a resumed run starts from, for the ETA. */
  startStep: number;
  pollMs: number;
  flushMs: number;
  stopGraceMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number | null | undefined, digits = 4) => (n == null ? '-' : Number(n.toPrecision(digits)).toString());

/** A trainer event as one readable log line (the JSON itself is for machines). */
function describe(e: TrainerEvent): string {
  switch (e.event) {
    case 'step':
      return `step ${e.step}/${e.total_steps}${e.stage ? ` ${e.stage}` : ''} loss ${fmt(e.loss)} lr ${fmt(e.learning_rate, 3)}`;
    case 'eval':
      return `eval${e.step !== undefined ? ` at step ${e.step}` : ''}: ${Object.entries(e).filter(([k, v]) => k !== 'event' && k !== 'step' && typeof v === 'number').map(([k, v]) => `${k} ${fmt(v as number)}`).join(', ')}`;
    case 'checkpoint':
      return `checkpoint saved${e.step !== undefined ? ` at step ${e.step}` : ''}`;
    case 'done':
      return 'done';
    case 'error':
      return `error: ${e.message}`;
    case 'log':
      return e.reason ? `${e.line} (${e.reason})` : e.line;
  }
}

const numericValues = (o: Record<string, unknown>, skip: string[]) =>
  Object.fromEntries(Object.entries(o).filter(([k, v]) => !skip.includes(k) && (typeof v === 'number' || v === null))) as Record<string, number | null>;

/**
 * Follows one trainer process through its log file: parses each new line, and every `flushMs` writes what
 * changed in one transaction (progress, log tail, checkpoint, metric rows) and publishes it on the job's
 * channel. The same write returns cancel_requested_at, so a cancel is seen within one flush.
 */
export class JobFollower {
  private offset: number;
  /** Bytes read past the last newline (a line still being written): not yet parsed, so not yet committed. */
  private partial = 0;
  private readonly parser = new TrainerStreamParser();
  private readonly tail: string[];
  private pending: { kind: 'step' | 'eval'; step: number; values: Record<string, number | null> }[] = [];
  private progress: Record<string, unknown> | null = null;
  private checkpoint: string | null = null;
  private lastStep = 0;
  private readonly startedAt = Date.now();
  private outcome: Omit<FollowOutcome, 'exit' | 'cancelled'> = {};
  private stopping = false;
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly jobId: string,
    private readonly logPath: string,
    private readonly proc: DetachedProcess,
    private readonly opts: FollowOptions,
  ) {
    this.offset = opts.offset;
    this.tail = [...opts.tail];
    this.lastStep = opts.startStep;
  }

  /** Stop following without touching the process (worker shutdown: the next worker adopts it). */
  detach(): void {
    this.closed = true;
    this.proc.release();
  }

  /** Resolves when the process has exited and its last lines are written; null when detached first. */
  async run(): Promise<FollowOutcome | null> {
    let exit: ProcessExit | undefined;
    void this.proc.exited.then((e) => (exit = e));
    let lastFlush = 0;
    let cancelled = false;
    while (!this.closed) {
      await Promise.race([this.proc.exited, sleep(this.opts.pollMs)]);
      // Whether it had exited *before* this read: only then is everything it printed already read. The
      // exit may land during the flush below, and returning then would lose its last lines (the done event).
      const exitedBeforeRead = exit;
      this.read();
      if (exitedBeforeRead || Date.now() - lastFlush >= this.opts.flushMs) {
        if (exitedBeforeRead) this.take(this.parser.end());
        cancelled = (await this.flush()) || cancelled;
        lastFlush = Date.now();
        if (cancelled && !this.stopping && !exitedBeforeRead) {
          this.stopping = true;
          this.tail.push('cancel requested: stopping the trainer');
          void this.proc.stop(this.opts.stopGraceMs);
        }
      }
      if (exitedBeforeRead) return { exit: exitedBeforeRead, cancelled, ...this.outcome };
    }
    await this.flush();
    return null;
  }

  private read(): void {
    let fd: number;
    try {
      fd = fs.openSync(this.logPath, 'r');
    } catch {
      return;
    }
    try {
      const buffer = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = fs.readSync(fd, buffer, 0, buffer.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        const newline = buffer.subarray(0, n).lastIndexOf(10);
        this.partial = newline === -1 ? this.partial + n : n - newline - 1;
        this.take(this.parser.push(buffer.subarray(0, n)));
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  private take(events: TrainerEvent[]): void {
    for (const e of events) {
      this.tail.push(describe(e).slice(0, 2000));
      if (e.event === 'step') {
        this.lastStep = e.step;
        this.pending.push({ kind: 'step', step: e.step, values: numericValues(e, ['event', 'step', 'total_steps', 'stage']) });
        const elapsed = (Date.now() - this.startedAt) / 1000;
        this.progress = {
          step: e.step,
          totalSteps: e.total_steps,
          epoch: e.epoch ?? null,
          tokensPerSecond: e.tokens_per_second ?? null,
          stage: e.stage ?? null,
          loss: e.loss ?? null,
          learningRate: e.learning_rate ?? null,
          etaSeconds: etaSeconds(e.step, e.total_steps, elapsed, this.opts.startStep),
        };
      } else if (e.event === 'eval') {
        this.outcome.lastEval = e;
        this.pending.push({ kind: 'eval', step: e.step ?? this.lastStep, values: numericValues(e, ['event', 'step']) });
      } else if (e.event === 'checkpoint') this.checkpoint = e.path;
      else if (e.event === 'done') this.outcome.done = e;
      else if (e.event === 'error') this.outcome.error = e.message;
    }
    if (this.tail.length > LOG_TAIL_LINES) this.tail.splice(0, this.tail.length - LOG_TAIL_LINES);
  }

  /** Writes what changed; returns whether a cancel has been requested. */
  private async flush(): Promise<boolean> {
    const metrics = this.pending;
    this.pending = [];
    const progress = this.progress;
    const checkpoint = this.checkpoint;
    this.progress = null;
    this.checkpoint = null;
    const [row] = await this.db.transaction(async (tx) => {
      if (metrics.length) await tx.insert(jobMetrics).values(metrics.map((m) => ({ jobId: this.jobId, ...m })));
      return tx
        .update(jobs)
        .set({
          // logOffset: where a worker adopting this process resumes reading (at a line start), so no line is counted twice or lost.
          progress: sql`${jobs.progress} || ${JSON.stringify({ ...(progress ?? {}), logOffset: this.offset - this.partial })}::jsonb`,
          logTail: [...this.tail],
          ...(checkpoint ? { lastCheckpoint: checkpoint } : {}),
          updatedAt: new Date(),
        })
        .where(eq(jobs.id, this.jobId))
        .returning({ cancelRequestedAt: jobs.cancelRequestedAt });
    });
    if (metrics.length || progress) await publishJobUpdate(this.jobId, { progress, metrics: metrics.length, lastCheckpoint: checkpoint });
    return !!row?.cancelRequestedAt;
  }
}
