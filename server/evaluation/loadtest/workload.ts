import { arrivalSchedule } from './arrivals';
import { seededRandom, uniformInt } from './random';
import type { ShardJob } from './shard-protocol';
import type { LoadTestSpec } from './spec';

/** A recorded request's shape: token counts and when it came, ms after the first. */
export interface ReplayEntry {
  inputTokens: number;
  outputTokens: number;
  atMs: number;
}

export interface StagePlan {
  stage: number;
  /** First seq of this stage: seqs are unique over the whole run. */
  seqBase: number;
  count: number;
  /** Requests per second (Poisson/gamma gaps), or null for concurrency. */
  rate: number | null;
  concurrency: number | null;
  /** Use the replay's recorded gaps for send times. */
  replayTiming?: boolean;
}

/**
 * The jobs of one stage, built up front from the seed: lengths, prompt seeds and send times are fixed
 * before the first request leaves, so two runs of one spec send the same load.
 */
export function buildJobs(spec: LoadTestSpec, plan: StagePlan, replay: ReplayEntry[] = []): ShardJob[] {
  const rand = seededRandom(spec.seed * 7919 + plan.stage + 1);
  const times = plan.rate !== null ? arrivalSchedule(plan.count, plan.rate, spec.burstiness, spec.seed + plan.stage) : null;
  const w = spec.workload;
  const jobs: ShardJob[] = [];
  for (let i = 0; i < plan.count; i++) {
    const seq = plan.seqBase + i;
    let job: Omit<ShardJob, 'atMs'>;
    if (w.kind === 'random') {
      const len = (mean: number) => uniformInt(rand, Math.max(1, Math.round(mean * (1 - w.rangeRatio))), Math.round(mean * (1 + w.rangeRatio)));
      job = { seq, stage: plan.stage, prompt: { kind: 'random', tokens: len(w.inputTokens), seed: spec.seed * 1_000_003 + seq }, maxTokens: len(w.outputTokens) };
    } else if (w.kind === 'prompts') {
      job = { seq, stage: plan.stage, prompt: { kind: 'text', index: seq % w.prompts.length }, maxTokens: w.outputTokens };
    } else {
      if (replay.length === 0) throw new Error('no recorded requests to replay');
      const r = replay[i % replay.length]!;
      job = { seq, stage: plan.stage, prompt: { kind: 'random', tokens: r.inputTokens, seed: spec.seed * 1_000_003 + seq }, maxTokens: r.outputTokens };
    }
    jobs.push({ ...job, atMs: times ? times[i]! : plan.replayTiming ? replayTime(replay, i, w.kind === 'replay' ? w.speed : 1) : null });
  }
  return jobs;
}

/** Recorded offsets, repeated end to end when the run asks for more requests than were recorded. */
function replayTime(replay: ReplayEntry[], i: number, speed: number): number {
  const span = replay[replay.length - 1]!.atMs + (replay.length > 1 ? replay[replay.length - 1]!.atMs / (replay.length - 1) : 1000);
  return (Math.floor(i / replay.length) * span + replay[i % replay.length]!.atMs) / speed;
}

export function promptTexts(spec: LoadTestSpec): string[] {
  return spec.workload.kind === 'prompts' ? spec.workload.prompts : [];
}
