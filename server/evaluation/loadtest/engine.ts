import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { monotonicMs } from './clock';
import type { ShardInput, ShardJob, ShardMessage } from './shard-protocol';
import { quantile } from '../../core/quantile';
import type { Sample, TimingError } from './types';

export interface EngineRun extends Omit<ShardInput, 'jobs' | 'concurrency' | 'warmup'> {
  jobs: ShardJob[];
  /** Sent first by the same threads over the same connections, never measured. */
  warmup?: ShardJob[];
  /** Concurrency mode: requests in flight at once over all shards. Null: send at each job's atMs. */
  concurrency: number | null;
  /** Worker threads; default from the expected number of open streams. */
  shards?: number;
}

export interface EngineResult {
  samples: Sample[];
  timing: TimingError;
  cancelled: boolean;
  /** The instant, on the shared monotonic clock (clock.ts), at which samples' startMs is 0. */
  startAt: number;
}

const BOOT = new URL('./shard-boot.mjs', import.meta.url);

/**
 * One event loop holds some tens of busy streams before its own queueing shows up in TTFT; past that the
 * load is spread over threads. More threads than cores still helps: each loop has fewer sockets to
 * walk per wake-up, so a byte waits behind fewer others.
 */
export function defaultShards(openStreams: number): number {
  const cap = Math.max(2, os.availableParallelism() * 4);
  return Math.max(1, Math.min(cap, Math.ceil(openStreams / 50)));
}

/** Runs the jobs over worker-thread shards; onSamples sees each batch as it arrives (for live progress). */
export async function runEngine(run: EngineRun, opts: { onSamples?: (s: Sample[]) => void; signal?: AbortSignal } = {}): Promise<EngineResult> {
  const { jobs, concurrency, shards: wanted, warmup = [], ...shared } = run;
  if (jobs.length === 0) return { samples: [], timing: timingOf(0, [], []), cancelled: false, startAt: 0 };
  const count = Math.max(1, Math.min(wanted ?? defaultShards(concurrency ?? Math.min(jobs.length, 2000)), concurrency ?? jobs.length, jobs.length));
  const parts: ShardJob[][] = Array.from({ length: count }, () => []);
  jobs.forEach((job, i) => parts[i % count]!.push(job));
  const warmParts: ShardJob[][] = Array.from({ length: count }, () => []);
  warmup.forEach((job, i) => warmParts[i % count]!.push(job));
  let startAt = 0;
  let ready = 0;
  const samples: Sample[] = [];
  const sendLags: number[] = [];
  const loops: { loopDelayP50Ms: number; loopDelayP99Ms: number; loopDelayMaxMs: number }[] = [];
  const workers: Worker[] = [];
  let cancelled = false;
  const stop = () => {
    cancelled = true;
    for (const w of workers) w.postMessage({ type: 'stop' });
  };
  if (opts.signal?.aborted) return { samples, timing: timingOf(0, loops, sendLags), cancelled: true, startAt };
  opts.signal?.addEventListener('abort', stop, { once: true });
  try {
    await Promise.all(
      parts.map(
        (part, i) =>
          new Promise<void>((resolve, reject) => {
            const slots = concurrency === null ? null : Math.floor(concurrency / count) + (i < concurrency % count ? 1 : 0);
            const input: ShardInput = { ...shared, jobs: part, warmup: warmParts[i]!, concurrency: slots };
            const worker = new Worker(BOOT, { workerData: input });
            workers.push(worker);
            worker.on('message', (msg: ShardMessage) => {
              if (msg.type === 'ready') {
                // Every shard has booted: one shared start instant, a little ahead so all receive it in time.
                if (++ready === count && !cancelled) {
                  startAt = monotonicMs() + 20;
                  for (const w of workers) w.postMessage({ type: 'start', startAt });
                }
              } else if (msg.type === 'samples') {
                const batch: Sample[] = msg.samples.map(({ sendLagMs, ...s }) => {
                  if (sendLagMs !== null) sendLags.push(sendLagMs);
                  return s;
                });
                for (const s of batch) samples.push(s);
                opts.onSamples?.(batch);
              } else if (msg.type === 'done') {
                loops.push(msg.timing);
                void worker.terminate().then(() => resolve());
              } else reject(new Error(`load-test shard failed: ${msg.error}`));
            });
            worker.on('error', reject);
            worker.on('exit', (code) => (code === 0 || loops.length ? resolve() : reject(new Error(`load-test shard exited with ${code}`))));
          }),
      ),
    );
  } finally {
    opts.signal?.removeEventListener('abort', stop);
    await Promise.all(workers.map((w) => w.terminate()));
  }
  samples.sort((a, b) => a.seq - b.seq);
  return { samples, timing: timingOf(count, loops, sendLags), cancelled, startAt };
}

function timingOf(shards: number, loops: { loopDelayP50Ms: number; loopDelayP99Ms: number; loopDelayMaxMs: number }[], lags: number[]): TimingError {
  const worst = (pick: (l: (typeof loops)[number]) => number) => loops.reduce((m, l) => Math.max(m, pick(l)), 0);
  const sorted = Float64Array.from(lags).sort();
  return {
    shards,
    loopDelayP50Ms: worst((l) => l.loopDelayP50Ms),
    loopDelayP99Ms: worst((l) => l.loopDelayP99Ms),
    loopDelayMaxMs: worst((l) => l.loopDelayMaxMs),
    sendLagP50Ms: sorted.length ? quantile(sorted, 0.5) : null,
    sendLagP99Ms: sorted.length ? quantile(sorted, 0.99) : null,
  };
}
