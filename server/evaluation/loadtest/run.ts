import { createOutboundPolicy, OutboundRefused, type OutboundConfig } from '../../security/outbound/policy';
import { runEngine, type EngineResult } from './engine';
import type { LoadTestSpec } from './spec';
import { summarize, type Summary } from './summary';
import type { Objectives, Sample, TimingError } from './types';
import { buildJobs, promptTexts, type ReplayEntry, type StagePlan } from './workload';

export interface Target {
  /** Base URL of the OpenAI-compatible API, e.g. http://host:3000/v1 */
  url: string;
  model: string;
  headers: Record<string, string>;
  /** Set for a URL a user gave: every connection goes through the outbound policy (deployments are Enclave's own). */
  outbound?: OutboundConfig;
}

/** A run the policy refuses fails at once with the reason, rather than as many failed samples. */
async function checkTarget(target: Target): Promise<void> {
  if (!target.outbound) return;
  const policy = createOutboundPolicy(target.outbound);
  const url = new URL(target.url);
  const why = policy.checkUrl(url);
  if (why) throw new OutboundRefused(why);
  // What the name resolves to now; each shard checks again on every connection it makes.
  await policy.resolve(url.hostname, Number(url.port) || (url.protocol === 'https:' ? 443 : 80)).catch((e: unknown) => {
    if (e instanceof OutboundRefused) throw e;
  });
}

export type StageKind = 'run' | 'synchronous' | 'throughput' | 'rate';

export interface StageResult {
  stage: number;
  kind: StageKind;
  rate: number | null;
  concurrency: number | null;
  summary: Summary;
  /** Whether the stage met the objectives (share of good requests at least sweep.goodFraction); null without objectives. */
  met: boolean | null;
}

export interface RunResult {
  samples: Sample[];
  summary: Summary;
  stages: StageResult[];
  timing: TimingError;
  cancelled: boolean;
}

export interface RunHooks {
  onSamples?: (samples: Sample[]) => void;
  onStage?: (stage: { stage: number; kind: StageKind; requests: number; rate: number | null; concurrency: number | null }) => void;
  signal?: AbortSignal;
}

/**
 * Runs a spec against a target: optional warm-up (never measured), then one stage, or for a sweep a
 * synchronous stage (one at a time), a throughput stage (spec.concurrency at once), and rates spaced
 * evenly between the two measured throughputs, stopping at the first rate that breaks the objectives.
 */
export async function runLoadTest(spec: LoadTestSpec, target: Target, hooks: RunHooks = {}, replay: ReplayEntry[] = []): Promise<RunResult> {
  await checkTarget(target);
  const engineBase = { url: target.url, headers: target.headers, api: spec.api, model: target.model, ignoreEos: spec.ignoreEos, texts: promptTexts(spec), timeoutMs: spec.timeoutMs, shards: spec.shards, outbound: target.outbound };
  const all: Sample[] = [];
  const stages: StageResult[] = [];
  const timings: TimingError[] = [];
  let cancelled = false;

  // Warm-up goes out first in the first stage's own threads and connections (a separate run would leave
  // the measured threads cold); negative seqs can never collide with measured ones.
  let warmup =
    spec.warmup > 0 ? buildJobs(spec, { stage: -1, seqBase: -spec.warmup, count: spec.warmup, rate: null, concurrency: null }, replay).map((j) => ({ ...j, atMs: null })) : [];
  const run = async (plan: StagePlan): Promise<EngineResult> => {
    const jobs = buildJobs(spec, plan, replay);
    const result = await runEngine({ ...engineBase, jobs, warmup, concurrency: plan.concurrency }, { signal: hooks.signal, onSamples: hooks.onSamples });
    warmup = [];
    if (result.cancelled) cancelled = true;
    timings.push(result.timing);
    return result;
  };
  const stage = async (kind: StageKind, plan: StagePlan) => {
    hooks.onStage?.({ stage: plan.stage, kind, requests: plan.count, rate: plan.rate, concurrency: plan.concurrency });
    const { samples } = await run(plan);
    all.push(...samples);
    const summary = summarize(samples, spec.objectives);
    const met = summary.goodFraction === null ? null : summary.goodFraction >= spec.sweep.goodFraction;
    stages.push({ stage: plan.stage, kind, rate: plan.rate, concurrency: plan.concurrency, summary, met });
    return summary;
  };

  const replayTiming = spec.workload.kind === 'replay' && spec.mode !== 'concurrency';
  const n = spec.requests;
  if (!cancelled && spec.mode === 'concurrency') await stage('run', { stage: 0, seqBase: 0, count: n, rate: null, concurrency: spec.concurrency });
  else if (!cancelled && spec.mode === 'rate')
    await stage('run', { stage: 0, seqBase: 0, count: n, rate: replayTiming ? null : spec.rate!, concurrency: null, replayTiming });
  else if (!cancelled && spec.mode === 'sweep') {
    const low = (await stage('synchronous', { stage: 0, seqBase: 0, count: n, rate: null, concurrency: 1 })).requestThroughput;
    const high = cancelled ? 0 : (await stage('throughput', { stage: 1, seqBase: n, count: n, rate: null, concurrency: spec.concurrency })).requestThroughput;
    for (let k = 1; k <= spec.sweep.stages && !cancelled && high > low && low > 0; k++) {
      const rate = low + ((high - low) * k) / (spec.sweep.stages + 1);
      await stage('rate', { stage: k + 1, seqBase: n * (k + 1), count: n, rate, concurrency: null });
      if (stages[stages.length - 1]!.met === false) break;
    }
  }
  return { samples: all, summary: summarize(all, spec.objectives), stages, timing: worstTiming(timings), cancelled };
}

function worstTiming(ts: TimingError[]): TimingError {
  const max = (pick: (t: TimingError) => number | null) => {
    const v = ts.map(pick).filter((x): x is number => x !== null);
    return v.length ? Math.max(...v) : null;
  };
  return {
    shards: max((t) => t.shards) ?? 0,
    loopDelayP50Ms: max((t) => t.loopDelayP50Ms) ?? 0,
    loopDelayP99Ms: max((t) => t.loopDelayP99Ms) ?? 0,
    loopDelayMaxMs: max((t) => t.loopDelayMaxMs) ?? 0,
    sendLagP50Ms: max((t) => t.sendLagP50Ms),
    sendLagP99Ms: max((t) => t.sendLagP99Ms),
  };
}

export type { Objectives };
