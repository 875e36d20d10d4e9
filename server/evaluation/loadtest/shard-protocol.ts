import type { OutboundConfig } from '../../security/outbound/policy';
import type { Sample, TimingError } from './types';

/** One request a shard sends: its body is built in the shard, so big prompt sets are not copied per request. */
export interface ShardJob {
  seq: number;
  stage: number;
  /** Scheduled send time, ms after startAt; null in concurrency mode (send when a slot frees). */
  atMs: number | null;
  prompt: { kind: 'random'; tokens: number; seed: number } | { kind: 'text'; index: number };
  maxTokens: number;
}

export interface ShardInput {
  url: string;
  /** The outbound policy's settings when the URL is one a user gave (see run.ts Target). */
  outbound?: OutboundConfig;
  headers: Record<string, string>;
  /** chat: /chat/completions with one user message; completions: /completions with a prompt. */
  api: 'chat' | 'completions';
  model: string;
  ignoreEos: boolean;
  texts: string[];
  jobs: ShardJob[];
  /** Sent before 'ready' and never reported: they warm the target, the connections and this thread's JIT. */
  warmup: ShardJob[];
  /** Requests in flight at once in this shard (concurrency mode), or null for scheduled sends. */
  concurrency: number | null;
  timeoutMs: number;
}

export type ShardMessage =
  | { type: 'ready' }
  | { type: 'samples'; samples: (Sample & { sendLagMs: number | null })[] }
  | { type: 'done'; timing: Omit<TimingError, 'shards' | 'sendLagP50Ms' | 'sendLagP99Ms'> }
  | { type: 'fatal'; error: string };
