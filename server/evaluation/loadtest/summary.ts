import { distribution, type Distribution } from './stats';
import type { Objectives, Sample } from './types';

export interface Summary {
  completed: number;
  failed: number;
  errorRate: number;
  durationS: number;
  requestThroughput: number;
  outputTokenThroughput: number;
  totalTokenThroughput: number;
  peakConcurrency: number;
  /** Requests per second that met every objective (vLLM's goodput); null without objectives. */
  goodput: number | null;
  goodFraction: number | null;
  inputTokens: number;
  outputTokens: number;
  ttftMs: Distribution | null;
  tpotMs: Distribution | null;
  itlMs: Distribution | null;
  e2eMs: Distribution | null;
}

export function meetsObjectives(s: Sample, o: Objectives): boolean {
  if (s.error !== null) return false;
  if (o.ttftMs !== undefined && !(s.ttftMs !== null && s.ttftMs <= o.ttftMs)) return false;
  if (o.e2eMs !== undefined && !(s.e2eMs !== null && s.e2eMs <= o.e2eMs)) return false;
  // A one-token reply has no TPOT: it cannot break a TPOT objective.
  if (o.tpotMs !== undefined && s.tpotMs !== null && s.tpotMs > o.tpotMs) return false;
  return true;
}

/** Most requests in flight at once, from the samples' [start, start + e2e] intervals. */
export function peakConcurrency(samples: readonly Sample[]): number {
  const edges: [number, number][] = [];
  for (const s of samples) {
    if (s.e2eMs === null) continue;
    edges.push([s.startMs, 1], [s.startMs + s.e2eMs, -1]);
  }
  // Ends before starts at the same instant: back-to-back requests on one slot are not overlapping.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, d] of edges) {
    now += d;
    if (now > peak) peak = now;
  }
  return peak;
}

export function summarize(samples: readonly Sample[], objectives: Objectives = {}): Summary {
  const ok = samples.filter((s) => s.error === null);
  const failed = samples.length - ok.length;
  let first = Infinity;
  let last = -Infinity;
  for (const s of samples) {
    first = Math.min(first, s.startMs);
    last = Math.max(last, s.startMs + (s.e2eMs ?? 0));
  }
  const durationS = samples.length ? Math.max(0, last - first) / 1000 : 0;
  const perS = (n: number) => (durationS > 0 ? n / durationS : 0);
  const inputTokens = ok.reduce((a, s) => a + (s.inputTokens ?? 0), 0);
  const outputTokens = ok.reduce((a, s) => a + (s.outputTokens ?? 0), 0);
  const hasObjectives = objectives.ttftMs !== undefined || objectives.tpotMs !== undefined || objectives.e2eMs !== undefined;
  const good = hasObjectives ? samples.filter((s) => meetsObjectives(s, objectives)).length : 0;
  const values = (pick: (s: Sample) => number | null) => ok.map(pick).filter((v): v is number => v !== null);
  return {
    completed: ok.length,
    failed,
    errorRate: samples.length ? failed / samples.length : 0,
    durationS,
    requestThroughput: perS(ok.length),
    outputTokenThroughput: perS(outputTokens),
    totalTokenThroughput: perS(inputTokens + outputTokens),
    peakConcurrency: peakConcurrency(samples),
    goodput: hasObjectives ? perS(good) : null,
    goodFraction: hasObjectives && samples.length ? good / samples.length : null,
    inputTokens,
    outputTokens,
    ttftMs: distribution(values((s) => s.ttftMs)),
    tpotMs: distribution(values((s) => s.tpotMs)),
    itlMs: distribution(ok.flatMap((s) => s.itlMs)),
    e2eMs: distribution(values((s) => s.e2eMs)),
  };
}
