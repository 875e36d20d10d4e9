import os from 'node:os';
import { runEngine } from '../../server/evaluation/loadtest/engine';
import { randomPrompt } from '../../server/evaluation/loadtest/prompt-text';
import { quantile } from '../../server/core/quantile';
import { summarize } from '../../server/evaluation/loadtest/summary';
import { tokenStampsById } from '../../server/testing/openai-double';
import { startOpenAIDoubleProcess, type OpenAIDoubleProcess } from '../../server/testing/openai-double-process';
import { minimalClient } from './minimal-client';

/**
 * npm run bench:loadgen — how many concurrent streams and requests per second Enclave's load generator
 * holds on this machine, and how honest its TTFT stays: against a local streaming double (its own
 * process) that stamps the instant it wrote each first token, TTFT error = arrival seen by the client
 * minus that stamp. A minimal one-loop undici client is measured in the same run, as the reference.
 * BENCH_LEVELS=500,1000 and BENCH_RATES=500,1000 override the ladders. Ends with one JSON line.
 */
const LEVELS = (process.env.BENCH_LEVELS ?? '250,500,1000,1500,2000').split(',').filter(Boolean).map(Number);
const RATES = (process.env.BENCH_RATES ?? '250,500,1000,1500,2000').split(',').filter(Boolean).map(Number);
// Long, slow streams: holding N open costs the generator N sockets, not N requests per second.
const STREAM = { firstTokenMs: 50, interTokenMs: 200, tokens: 12 };
const SHORT = { firstTokenMs: 5, interTokenMs: 5, tokens: 4 };

const r2 = (v: number) => Math.round(v * 100) / 100;
const pct = (v: number[]) => {
  const s = Float64Array.from(v).sort();
  return { p50: r2(quantile(s, 0.5)), p99: r2(quantile(s, 0.99)) };
};

function chatBody(i: number, maxTokens: number): string {
  return JSON.stringify({ model: 'timed', messages: [{ role: 'user', content: randomPrompt(32, i) }], max_tokens: maxTokens, stream: true, stream_options: { include_usage: true } });
}

async function streamsLevel(double: OpenAIDoubleProcess, c: number) {
  const total = 2 * c;
  await double.clear();
  const job = (seq: number) => ({ seq, stage: 0, atMs: null, prompt: { kind: 'random' as const, tokens: 32, seed: seq }, maxTokens: STREAM.tokens });
  const jobs = Array.from({ length: total }, (_, seq) => job(seq));
  // One warm-up wave in the same threads (never reported), as a load test's warm-up requests.
  const warmup = Array.from({ length: c }, (_, i) => job(-1 - i));
  const run = await runEngine({ url: `${double.url}/v1`, headers: {}, api: 'chat', model: 'timed', ignoreEos: false, texts: [], jobs, warmup, concurrency: c, timeoutMs: 60_000 });
  let stamps = tokenStampsById(await double.requests());
  // The second measured wave: connections are open and the threads warm, which the error measure is about.
  const measured = run.samples.filter((s) => s.seq >= c && s.error === null && stamps[`loadtest-${s.seq}`] !== undefined);
  const engineErr = measured.map((s) => run.startAt + s.startMs + s.ttftMs! - stamps[`loadtest-${s.seq}`]![0]!);
  const summary = summarize(run.samples);

  await double.clear();
  // The same three waves for the reference client: two unmeasured, then the measured one.
  const minimal = await minimalClient(`${double.url}/v1/chat/completions`, c, total + c, (i) => chatBody(i, STREAM.tokens));
  stamps = tokenStampsById(await double.requests());
  const minimalErr: number[] = [];
  for (let i = 2 * c; i < total + c; i++) {
    const at = minimal.arrivals.get(`minimal-${i}`);
    const sent = stamps[`minimal-${i}`]?.[0];
    if (at !== undefined && sent !== undefined) minimalErr.push(at - sent);
  }
  return {
    streams: c,
    engine: { shards: run.timing.shards, peak: summary.peakConcurrency, failed: summary.failed, ttftErrorMs: pct(engineErr), loopDelayP99Ms: r2(run.timing.loopDelayP99Ms) },
    minimal: { failed: minimal.failed, ttftErrorMs: pct(minimalErr) },
  };
}

async function rateLevel(url: string, rate: number) {
  const seconds = 4;
  const count = Math.round(rate * seconds);
  const jobs = Array.from({ length: count }, (_, seq) => ({ seq, stage: 0, atMs: (seq * 1000) / rate, prompt: { kind: 'random' as const, tokens: 16, seed: seq }, maxTokens: SHORT.tokens }));
  const run = await runEngine({ url: `${url}/v1`, headers: {}, api: 'chat', model: 'timed', ignoreEos: false, texts: [], jobs, concurrency: null, timeoutMs: 30_000 });
  const s = summarize(run.samples);
  // Sustained: the offered rate is achieved (95 %), the typical request leaves within 5 ms of its slot,
  // and none failed. The p99 lag is reported beside it.
  const held = s.failed === 0 && s.requestThroughput >= 0.95 * rate && (run.timing.sendLagP50Ms ?? Infinity) <= 5;
  return { rate, achieved: r2(s.requestThroughput), failed: s.failed, sendLagP50Ms: r2(run.timing.sendLagP50Ms ?? NaN), sendLagP99Ms: r2(run.timing.sendLagP99Ms ?? NaN), held };
}

const machine = { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version, loadavg: os.loadavg().map(r2) };
console.log(`loadgen benchmark on ${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}, load average ${machine.loadavg.join(' ')}`);

const streamsDouble = await startOpenAIDoubleProcess(STREAM);
const levels = [];
try {
  for (const c of LEVELS) {
    const level = await streamsLevel(streamsDouble, c);
    levels.push(level);
    console.log(
      `${String(c).padStart(5)} streams  engine: ${level.engine.shards} shards, peak ${level.engine.peak}, failed ${level.engine.failed}, TTFT error p50 ${level.engine.ttftErrorMs.p50} ms p99 ${level.engine.ttftErrorMs.p99} ms` +
        `  |  minimal undici: failed ${level.minimal.failed}, p50 ${level.minimal.ttftErrorMs.p50} ms p99 ${level.minimal.ttftErrorMs.p99} ms`,
    );
  }
} finally {
  await streamsDouble.close();
}

const rateDouble = await startOpenAIDoubleProcess(SHORT);
const rates = [];
try {
  for (const rate of RATES) {
    const r = await rateLevel(rateDouble.url, rate);
    rates.push(r);
    console.log(`${String(rate).padStart(5)} req/s offered: achieved ${r.achieved}/s, send lag p50 ${r.sendLagP50Ms} ms p99 ${r.sendLagP99Ms} ms, failed ${r.failed} -> ${r.held ? 'held' : 'not held'}`);
    if (!r.held) break;
  }
} finally {
  await rateDouble.close();
}

const at2000 = levels.find((l) => l.streams === 2000);
const maxHeld = Math.max(0, ...levels.filter((l) => l.engine.failed === 0 && l.engine.peak >= 0.95 * l.streams).map((l) => l.streams));
const figures = {
  bench: 'loadgen',
  machine,
  maxStreamsHeld: maxHeld,
  maxRequestsPerSecond: Math.max(0, ...rates.filter((r) => r.held).map((r) => r.rate)),
  levels,
  rates,
  targets: at2000
    ? {
        streams2000Held: at2000.engine.failed === 0 && at2000.engine.peak >= 1900,
        ttftErrorP50AtMost1_5ms: at2000.engine.ttftErrorMs.p50 <= 1.5,
        ttftErrorP99NoWorseThanMinimal: at2000.engine.ttftErrorMs.p99 <= at2000.minimal.ttftErrorMs.p99,
      }
    : null,
};
console.log(JSON.stringify(figures));
