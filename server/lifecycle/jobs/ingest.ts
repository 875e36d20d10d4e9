import { eq, sql } from 'drizzle-orm';
import { jobMetrics, jobs } from '../../db/schema';
import type { DbOrTx } from '../../db/types';
import { etaSeconds, TrainerStreamParser, type DoneEvent, type EvalEvent, type TrainerEvent } from '../finetune/protocol';

const LOG_TAIL_LINES = 50;

/** What a trainer's output said about how it ended (the exit itself is the process's). */
export interface TrainerOutcome {
  done?: DoneEvent;
  error?: string;
  lastEval?: EvalEvent;
}

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
 * A trainer's JSON-lines output turned into the job's row: step and eval events become job_metrics rows,
 * the last step the progress (with an ETA), checkpoints the resume point, every line the log tail, and
 * done/error the outcome. Fed by a worker reading its own trainer's log (follower.ts) or by an agent's
 * reports of a trainer on its host (remote.ts): one reading of the protocol for both.
 */
export class JobLogIngest {
  private readonly parser = new TrainerStreamParser();
  private readonly tail: string[];
  private pending: { kind: 'step' | 'eval'; step: number; values: Record<string, number | null> }[] = [];
  private progress: Record<string, unknown> | null = null;
  private checkpoint: string | null = null;
  private lastStep: number;
  readonly outcome: TrainerOutcome = {};

  constructor(
    private readonly jobId: string,
    private readonly opts: { tail: string[]; startStep: number; startedAt: number },
  ) {
    this.tail = [...opts.tail];
    this.lastStep = opts.startStep;
  }

  push(chunk: Uint8Array | string): void {
    this.take(this.parser.push(chunk));
  }

  /** The output is complete: a last line without a newline counts too. */
  end(): void {
    this.take(this.parser.end());
  }

  /** A line of Enclave's own, shown with the trainer's (not parsed). */
  note(line: string): void {
    this.tail.push(line);
    if (this.tail.length > LOG_TAIL_LINES) this.tail.splice(0, this.tail.length - LOG_TAIL_LINES);
  }

  private take(events: TrainerEvent[]): void {
    for (const e of events) {
      this.tail.push(describe(e).slice(0, 2000));
      if (e.event === 'step') {
        this.lastStep = e.step;
        this.pending.push({ kind: 'step', step: e.step, values: numericValues(e, ['event', 'step', 'total_steps', 'stage']) });
        const elapsed = (Date.now() - this.opts.startedAt) / 1000;
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

  /**
   * Writes what changed since the last flush in one transaction, with `logOffset` (the byte offset in the
   * trainer's log up to which everything is now counted: where a follower or agent picking the job up
   * resumes, so no line is counted twice or lost), anything else for the row or its progress. Returns whether a cancel
   * has been requested, and the update to publish on the job's channel once the write is committed (the
   * caller's transaction may still be open: a page refreshing on the message must find the new row).
   */
  async flush(
    db: DbOrTx,
    logOffset: number,
    set: Partial<typeof jobs.$inferInsert> = {},
    progressExtra: Record<string, unknown> = {},
  ): Promise<{ cancel: boolean; update: Record<string, unknown> | null }> {
    const metrics = this.pending;
    this.pending = [];
    const progress = this.progress;
    const checkpoint = this.checkpoint;
    this.progress = null;
    this.checkpoint = null;
    const [row] = await db.transaction(async (tx) => {
      if (metrics.length) await tx.insert(jobMetrics).values(metrics.map((m) => ({ jobId: this.jobId, ...m })));
      return tx
        .update(jobs)
        .set({
          ...set,
          progress: sql`${jobs.progress} || ${JSON.stringify({ ...(progress ?? {}), ...progressExtra, logOffset })}::jsonb`,
          logTail: [...this.tail],
          ...(checkpoint ? { lastCheckpoint: checkpoint } : {}),
          updatedAt: new Date(),
        })
        .where(eq(jobs.id, this.jobId))
        .returning({ cancelRequestedAt: jobs.cancelRequestedAt });
    });
    return { cancel: !!row?.cancelRequestedAt, update: metrics.length || progress ? { progress, metrics: metrics.length, lastCheckpoint: checkpoint } : null };
  }
}
