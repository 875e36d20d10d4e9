import fs from 'node:fs';
import type { Db } from '../../db/client';
import type { ProcessExit } from '../../process/engine-process';
import type { DetachedProcess } from '../../process/detached-process';
import { JobLogIngest, type TrainerOutcome } from './ingest';
import { publishJobUpdate } from './live';

export interface FollowOutcome extends TrainerOutcome {
  exit: ProcessExit;
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

/**
 * Follows one trainer process through its log file: parses each new line, and every `flushMs` writes what
 * changed in one transaction (progress, log tail, checkpoint, metric rows) and publishes it on the job's
 * channel. The same write returns cancel_requested_at, so a cancel is seen within one flush.
 */
export class JobFollower {
  private offset: number;
  /** Bytes read past the last newline (a line still being written): not yet parsed, so not yet committed. */
  private partial = 0;
  private readonly ingest: JobLogIngest;
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
    this.ingest = new JobLogIngest(jobId, { tail: opts.tail, startStep: opts.startStep, startedAt: Date.now() });
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
        if (exitedBeforeRead) this.ingest.end();
        cancelled = (await this.flush()) || cancelled;
        lastFlush = Date.now();
        if (cancelled && !this.stopping && !exitedBeforeRead) {
          this.stopping = true;
          this.ingest.note('cancel requested: stopping the trainer');
          void this.proc.stop(this.opts.stopGraceMs);
        }
      }
      if (exitedBeforeRead) return { exit: exitedBeforeRead, cancelled, ...this.ingest.outcome };
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
        this.ingest.push(buffer.subarray(0, n));
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Writes what changed; returns whether a cancel has been requested. */
  private async flush(): Promise<boolean> {
    const { cancel, update } = await this.ingest.flush(this.db, this.offset - this.partial);
    if (update) await publishJobUpdate(this.jobId, update);
    return cancel;
  }
}
