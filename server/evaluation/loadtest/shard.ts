import http from 'node:http';
import https from 'node:https';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { createGuardedAgents } from '../../security/outbound/agents';
import { createOutboundPolicy, OutboundRefused } from '../../security/outbound/policy';
import { NO_HTTP_ANSWER } from '../../security/outbound/request';
import { randomPrompt } from './prompt-text';
import type { ShardInput, ShardJob, ShardMessage } from './shard-protocol';
import { StreamTimer } from './stream-timer';
import { performanceToMonotonic } from './clock';
import type { Sample } from './types';

/**
 * One load-generator shard: a worker thread with its own event loop and keep-alive agent, so that at
 * high concurrency no single loop queues up byte arrivals and skews TTFT. Timestamps are taken with
 * performance.now() first thing in each data callback; samples go back to the main thread in batches.
 */
const input = workerData as ShardInput;
const port = parentPort!;
const target = new URL(input.url.replace(/\/+$/, '') + (input.api === 'chat' ? '/chat/completions' : '/completions'));
const secure = target.protocol === 'https:';
// A URL a user gave connects only where the outbound policy allows, checked on every connection.
const guarded = input.outbound ? createGuardedAgents(createOutboundPolicy(input.outbound)) : null;
const agent = guarded
  ? secure
    ? guarded.https
    : guarded.http
  : secure
    ? new https.Agent({ keepAlive: true, maxSockets: Infinity })
    : new http.Agent({ keepAlive: true, maxSockets: Infinity });
const request = secure ? https.request : http.request;
// The main thread's start instant on this thread's performance.now() clock (it arrives on the shared
// monotonic clock: timeOrigin differs per thread and drifts with the wall clock).
// Set by the 'start' message, sent once every shard has booted, so no shard compiles while others measure.
let start = 0;
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();

let stopped = false;
let recording = false;
const inFlight = new Set<http.ClientRequest>();
let pending: ShardMessage & { type: 'samples' } = { type: 'samples', samples: [] };
const flush = () => {
  if (pending.samples.length === 0) return;
  port.postMessage(pending);
  pending = { type: 'samples', samples: [] };
};
const flushTimer = setInterval(flush, 250);

function body(job: ShardJob): string {
  const text = job.prompt.kind === 'random' ? randomPrompt(job.prompt.tokens, job.prompt.seed) : (input.texts[job.prompt.index] ?? '');
  const common = {
    model: input.model,
    max_tokens: job.maxTokens,
    stream: true,
    stream_options: { include_usage: true },
    ...(input.ignoreEos ? { ignore_eos: true } : {}),
  };
  return JSON.stringify(input.api === 'chat' ? { ...common, messages: [{ role: 'user', content: text }] } : { ...common, prompt: text });
}

function send(job: ShardJob): Promise<void> {
  const payload = body(job);
  return new Promise((resolve) => {
    const t0 = performance.now();
    const sendLagMs = job.atMs === null ? null : t0 - start - job.atMs;
    const timer = new StreamTimer(t0);
    let settled = false;
    const finish = (error: string | null) => {
      if (settled) return;
      settled = true;
      const end = performance.now();
      inFlight.delete(req);
      clearTimeout(timeout);
      if ((stopped && error) || !recording) return resolve();
      if (!error && timer.ttftMs < 0) error = 'no output';
      if (!error && !timer.done) error = 'stream ended early';
      const out = timer.completionTokens ?? timer.tokenEvents;
      const e2e = end - t0;
      const sample: Sample & { sendLagMs: number | null } = {
        seq: job.seq,
        stage: job.stage,
        startMs: t0 - start,
        ttftMs: timer.ttftMs >= 0 ? timer.ttftMs : null,
        e2eMs: e2e,
        tpotMs: !error && out > 1 ? (e2e - timer.ttftMs) / (out - 1) : null,
        itlMs: timer.itlMs,
        inputTokens: timer.promptTokens,
        outputTokens: timer.completionTokens ?? (timer.tokenEvents || null),
        error,
        sendLagMs,
      };
      pending.samples.push(sample);
      resolve();
    };
    const req = request(
      {
        agent,
        hostname: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method: 'POST',
        // x-request-id lets a target's own logs (or the benchmark's stamping server) be matched to samples.
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'x-request-id': `loadtest-${job.seq}`, ...input.headers },
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          res.on('end', () => finish(`HTTP ${res.statusCode}`));
          res.on('error', () => finish(`HTTP ${res.statusCode}`));
          return;
        }
        res.on('data', (chunk: Buffer) => timer.onData(chunk, performance.now()));
        res.on('end', () => finish(null));
        res.on('error', () => finish('connection lost'));
        res.on('aborted', () => finish('connection lost'));
      },
    );
    const timeout = setTimeout(() => {
      finish('timeout');
      req.destroy();
    }, input.timeoutMs);
    inFlight.add(req);
    req.on('error', (e: NodeJS.ErrnoException) => finish(connectError(e)));
    req.end(payload);
  });
}

/**
 * The sample's error for a failed connection. Under the outbound policy, one label for every way of
 * getting no HTTP answer, so a run cannot tell a closed port from a filtered one or another service.
 */
function connectError(e: NodeJS.ErrnoException): string {
  if (e instanceof OutboundRefused) return 'refused by the outbound policy';
  if (guarded) return NO_HTTP_ANSWER;
  return e.code ? `connect ${e.code}` : 'request failed';
}

// Sending costs CPU (body, request object, syscalls). A burst of sends in one loop turn would hold back
// the data callbacks that timestamp other streams' bytes, so sends go out a few per turn and arriving
// bytes are read (and stamped) in between: the delay a send adds to a timestamp stays bounded.
const SENDS_PER_TURN = 4;
const waiting: (() => void)[] = [];
let head = 0;
let pumping = false;
function turn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!pumping) {
      pumping = true;
      setImmediate(pump);
    }
  });
}
function pump() {
  for (let i = 0; i < SENDS_PER_TURN && head < waiting.length; i++) waiting[head++]!();
  if (head < waiting.length) return void setImmediate(pump);
  waiting.length = 0;
  head = 0;
  pumping = false;
}

async function runConcurrent(jobs: ShardJob[], slots: number) {
  let next = 0;
  const slot = async () => {
    while (!stopped && next < jobs.length) {
      const job = jobs[next++]!;
      await turn();
      if (!stopped) await send(job);
    }
  };
  await Promise.all(Array.from({ length: Math.min(slots, jobs.length) }, slot));
}

/** Sends each job at its scheduled instant; one timer for the next due job, all due jobs at once. */
function runScheduled(jobs: ShardJob[]): Promise<void> {
  const sorted = [...jobs].sort((a, b) => a.atMs! - b.atMs!);
  const running: Promise<void>[] = [];
  let i = 0;
  return new Promise((resolve) => {
    const tick = () => {
      if (stopped) return void Promise.all(running).then(() => resolve());
      const now = performance.now() - start;
      while (i < sorted.length && sorted[i]!.atMs! <= now) {
        const job = sorted[i++]!;
        running.push(turn().then(() => (stopped ? undefined : send(job))));
      }
      if (i >= sorted.length) return void Promise.all(running).then(() => resolve());
      setTimeout(tick, Math.max(0, sorted[i]!.atMs! - (performance.now() - start)));
    };
    tick();
  });
}

port.on('message', (msg: { type: string; startAt?: number }) => {
  if (msg.type === 'start') return void begin(msg.startAt!);
  if (msg.type !== 'stop') return;
  stopped = true;
  for (const req of inFlight) req.destroy();
  // Stopped before the start: finish at once, so the main thread still gets 'done'.
  if (start === 0) void run();
});
const warm = input.warmup.length ? runConcurrent(input.warmup, input.concurrency ?? Math.min(4, input.warmup.length)) : Promise.resolve();
void warm.then(() => port.postMessage({ type: 'ready' } satisfies ShardMessage));

function begin(startAt: number) {
  start = startAt - performanceToMonotonic;
  recording = true;
  loop.reset();
  const wait = () => new Promise((r) => setTimeout(r, Math.max(0, start - performance.now())));
  void wait().then(run);
}

const run = () => (input.concurrency !== null ? runConcurrent(input.jobs, input.concurrency) : runScheduled(input.jobs)).then(
  () => {
    clearInterval(flushTimer);
    flush();
    loop.disable();
    // The histogram records the time between its 1 ms ticks: the delay is what exceeds the tick.
    const ms = (ns: number) => Math.max(0, ns / 1e6 - 1);
    port.postMessage({
      type: 'done',
      timing: { loopDelayP50Ms: ms(loop.percentile(50)), loopDelayP99Ms: ms(loop.percentile(99)), loopDelayMaxMs: ms(loop.max) },
    } satisfies ShardMessage);
    agent.destroy();
  },
  (e: unknown) => port.postMessage({ type: 'fatal', error: e instanceof Error ? e.message : String(e) } satisfies ShardMessage),
);
