import { quantile } from '../../core/quantile';
import type { Sample } from './types';

export interface LiveProgress {
  stage: number;
  stageKind: string;
  done: number;
  failed: number;
  total: number;
  /** Completions per second over the last 5 s. */
  currentRate: number;
  ttftMs: { p50: number; p90: number; p99: number } | null;
  itlMs: { p50: number; p90: number; p99: number } | null;
  e2eMs: { p50: number; p90: number; p99: number } | null;
  elapsedS: number;
}

/** Running counts and percentiles while a run goes, for the row's progress column. */
export class ProgressTracker {
  private ttft: number[] = [];
  private itl: number[] = [];
  private e2e: number[] = [];
  private doneAt: number[] = [];
  private done = 0;
  private failed = 0;
  private stage = 0;
  private stageKind = 'run';
  private readonly started = Date.now();

  constructor(private readonly total: number) {}

  setStage(stage: number, kind: string) {
    this.stage = stage;
    this.stageKind = kind;
  }

  add(samples: Sample[]) {
    const now = Date.now();
    for (const s of samples) {
      this.done++;
      this.doneAt.push(now);
      if (s.error) {
        this.failed++;
        continue;
      }
      if (s.ttftMs !== null) this.ttft.push(s.ttftMs);
      if (s.e2eMs !== null) this.e2e.push(s.e2eMs);
      // ITL is sampled: a long run has millions of gaps, and a running figure needs only a fair share.
      for (let i = 0; i < s.itlMs.length; i += Math.max(1, Math.floor(s.itlMs.length / 16))) this.itl.push(s.itlMs[i]!);
    }
  }

  snapshot(): LiveProgress {
    const now = Date.now();
    while (this.doneAt.length && this.doneAt[0]! < now - 5_000) this.doneAt.shift();
    const window = Math.min(5, (now - this.started) / 1000);
    const pct = (v: number[]) => {
      if (!v.length) return null;
      const s = Float64Array.from(v).sort();
      return { p50: quantile(s, 0.5), p90: quantile(s, 0.9), p99: quantile(s, 0.99) };
    };
    return {
      stage: this.stage,
      stageKind: this.stageKind,
      done: this.done,
      failed: this.failed,
      total: this.total,
      currentRate: window > 0 ? this.doneAt.length / window : 0,
      ttftMs: pct(this.ttft),
      itlMs: pct(this.itl),
      e2eMs: pct(this.e2e),
      elapsedS: (now - this.started) / 1000,
    };
  }
}
