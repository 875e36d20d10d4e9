import { CUDA_DEVICE_RULE, diagnoseWith, divisors, TORCH_OOM_RULES, type LogRule } from '../log-rules';

/**
 * TGI's start-up failures, from its launcher's and shards' own messages (see fixtures/SOURCES.md for
 * where each was recorded), explained as what to change in the deployment.
 */
const RULES: LogRule[] = [
  {
    // The warm-up runs one prefill of max_batch_prefill_tokens; an OOM there is reported as this.
    pattern: /Not enough memory to handle (\d+) prefill tokens/,
    explain: (m) =>
      `TGI's warm-up ran out of GPU memory on a prefill of ${m[1]} tokens (max_batch_prefill_tokens, by default max_model_len + 50).` +
      ' Lower max_model_len, add --max-batch-prefill-tokens with a smaller value to the extra arguments, raise gpu_memory_utilization, or use more GPUs (a larger TP).',
  },
  {
    pattern: /The cho+sen size (\d+) is not compatible with sharding on (\d+) shards/,
    explain: (m) => `TP ${m[2]} does not divide a ${m[1]}-wide weight of this model; choose a TP that does (${divisors(Number(m[1])).join(', ')}).`,
  },
  {
    pattern: /failed to bind to \S+?:(\d+) \(errno: 98 - Address already in use\)/,
    explain: (m) => `Port ${m[1]}, which the shards use to find each other, was taken (another TGI replica on this node?); the next start picks another.`,
  },
  ...TORCH_OOM_RULES,
  CUDA_DEVICE_RULE,
  {
    pattern: /invalid value '([^']*)' for '--([a-z0-9-]+)[^']*'/,
    explain: (m) => `This TGI does not accept '${m[1]}' for --${m[2]}.`,
  },
  {
    pattern: /unexpected argument '([^']*)' found/,
    explain: (m) => `This TGI does not know the argument ${m[1]}; remove it from the extra arguments.`,
  },
  {
    // SIGBUS from NCCL when /dev/shm is too small for the shards to share tensors.
    pattern: /Shard process was signaled to shutdown with signal 7/,
    explain: () => 'A shard died of SIGBUS: shared memory (/dev/shm) is too small for the shards to talk; give the host or container more /dev/shm (1 GiB or more).',
  },
  {
    pattern: /Shard process was signaled to shutdown with signal (\d+)/,
    explain: (m) => `A shard was killed by signal ${m[1]} while starting (signal 4: this CPU lacks an instruction the build needs; 9: the host ran out of memory).`,
  },
  {
    pattern: /Shard (\d+) failed to start/,
    explain: (m) => `TGI's shard ${m[1]} failed to start; the lines above it in the log say why.`,
  },
];

/** A plain-words reason for a failed TGI start found in its log tail, or null when none is recognised. */
export function diagnoseTgiLog(logTail: string): string | null {
  return diagnoseWith(RULES, logTail);
}
