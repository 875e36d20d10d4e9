import { ZodError } from 'zod';
import { runLoadTest } from '../server/evaluation/loadtest/run';
import { loadTestSpecSchema } from '../server/evaluation/loadtest/spec';
import type { Distribution } from '../server/evaluation/loadtest/stats';
import { numberFlag, options, required, UsageError } from './args';

const rounded = (d: Distribution | null) =>
  d && { mean: +d.mean.toFixed(3), median: +d.median.toFixed(3), p90: +d.p90.toFixed(3), p95: +d.p95.toFixed(3), p99: +d.p99.toFixed(3) };

/**
 * `enclave loadtest --target URL --model NAME [--api-key K] (--concurrency N | --rate R [--burstiness B])
 * --requests N [--input-tokens N --output-tokens N] [--warmup N] [--seed S] [--json]`: drives the target
 * from this machine (no database) and prints the summary.
 */
export async function loadtestCommand(args: string[]): Promise<number> {
  const { values } = options(args, ['target', 'model', 'api-key', 'concurrency', 'rate', 'burstiness', 'requests', 'input-tokens', 'output-tokens', 'warmup', 'seed'], ['json']);
  const url = required(values.target, '--target');
  if (!/^https?:\/\//i.test(url) || !URL.canParse(url)) throw new UsageError('--target must be an http:// or https:// base URL, e.g. http://127.0.0.1:3000/v1');
  const model = required(values.model, '--model');
  if ((values.concurrency === undefined) === (values.rate === undefined)) throw new UsageError('give one of --concurrency N or --rate R');
  if (values.burstiness !== undefined && values.rate === undefined) throw new UsageError('--burstiness goes with --rate');
  let spec;
  try {
    spec = loadTestSpecSchema.parse({
      mode: values.rate !== undefined ? 'rate' : 'concurrency',
      concurrency: numberFlag(values.concurrency, '--concurrency'),
      rate: numberFlag(values.rate, '--rate'),
      burstiness: numberFlag(values.burstiness, '--burstiness'),
      requests: numberFlag(required(values.requests, '--requests'), '--requests'),
      warmup: numberFlag(values.warmup, '--warmup'),
      seed: numberFlag(values.seed, '--seed'),
      workload: { kind: 'random', inputTokens: numberFlag(values['input-tokens'], '--input-tokens') ?? 128, outputTokens: numberFlag(values['output-tokens'], '--output-tokens') ?? 64 },
    });
  } catch (e) {
    if (e instanceof ZodError) throw new UsageError(e.issues.map((i) => `--${String(i.path[i.path.length - 1] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`).join('; '));
    throw e;
  }
  const headers: Record<string, string> = values['api-key'] ? { authorization: `Bearer ${values['api-key']}` } : {};
  const result = await runLoadTest(spec, { url: url.replace(/\/+$/, ''), model, headers });
  const s = result.summary;
  const out = {
    ttft_ms: rounded(s.ttftMs),
    tpot_ms: rounded(s.tpotMs),
    itl_ms: rounded(s.itlMs),
    e2e_ms: rounded(s.e2eMs),
    request_throughput: +s.requestThroughput.toFixed(3),
    output_token_throughput: +s.outputTokenThroughput.toFixed(3),
    completed: s.completed,
    failed: s.failed,
    peak_concurrency: s.peakConcurrency,
    duration_s: +s.durationS.toFixed(3),
    timing_error: result.timing,
  };
  if (values.json) process.stdout.write(JSON.stringify(out) + '\n');
  else {
    const row = (name: string, d: Distribution | null) =>
      `${name.padEnd(6)} ${d ? [d.mean, d.median, d.p90, d.p95, d.p99].map((v) => v.toFixed(2).padStart(10)).join('') : '         -'}\n`;
    process.stdout.write(`${'ms'.padEnd(6)} ${['mean', 'median', 'p90', 'p95', 'p99'].map((h) => h.padStart(10)).join('')}\n`);
    process.stdout.write(row('TTFT', s.ttftMs) + row('TPOT', s.tpotMs) + row('ITL', s.itlMs) + row('E2E', s.e2eMs));
    process.stdout.write(
      `completed ${s.completed}, failed ${s.failed}, ${s.requestThroughput.toFixed(2)} req/s, ${s.outputTokenThroughput.toFixed(1)} output tok/s, peak concurrency ${s.peakConcurrency}\n` +
        `generator timing: event-loop delay p99 ${result.timing.loopDelayP99Ms.toFixed(2)} ms over ${result.timing.shards} shard(s)\n`,
    );
  }
  return s.completed > 0 ? 0 : 1;
}
