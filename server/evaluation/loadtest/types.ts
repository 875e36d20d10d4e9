/** One measured request. Times in ms; startMs is when it was sent, after the run (or sweep stage) began. */
export interface Sample {
  seq: number;
  stage: number;
  startMs: number;
  ttftMs: number | null;
  e2eMs: number | null;
  tpotMs: number | null;
  /** Every gap between chunks that carried output. */
  itlMs: number[];
  inputTokens: number | null;
  outputTokens: number | null;
  error: string | null;
}

/** Latency objectives (ms) for goodput; a request is "good" when it meets every one that is set. */
export interface Objectives {
  ttftMs?: number;
  tpotMs?: number;
  e2eMs?: number;
}

/**
 * How honest the generator's own clock was: event-loop delay of the shards (the most a byte's timestamp
 * can be late by) and how late requests left against their schedule.
 */
export interface TimingError {
  shards: number;
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  sendLagP50Ms: number | null;
  sendLagP99Ms: number | null;
}
