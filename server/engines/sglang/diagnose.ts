import { CUDA_DEVICE_RULE, diagnoseWith, divisors, TORCH_OOM_RULES, type LogRule } from '../log-rules';

/**
 * SGLang's start-up failures, from its own messages (see fixtures/SOURCES.md for where each was
 * recorded), explained as what to change in the deployment.
 */
const RULES: LogRule[] = [
  {
    // The KV pool is what --mem-fraction-static leaves after the weights; none left is this message.
    pattern: /Not enough memory\. Please try to increase --mem-fraction-static\.(?: Current value: \S*?mem_fraction_static=([\d.]+))?/,
    explain: (m) =>
      `The weights left no room for SGLang's KV cache within mem_fraction_static${m[1] ? ` ${m[1]}` : ''}.` +
      ' Raise gpu_memory_utilization (it is SGLang\'s --mem-fraction-static), lower max_model_len, use a quantized version, or use more GPUs (a larger TP).',
  },
  {
    pattern: /max_total_tokens=(\d+) is larger than the profiled value (-\d+)/,
    explain: (m) =>
      `The weights take more than SGLang's static memory share (its KV cache profile came out at ${m[2]} tokens, below zero).` +
      ' Raise gpu_memory_utilization, use a quantized version, or use more GPUs (a larger TP).',
  },
  {
    pattern: /AssertionError: (\d+) is not divisible by (\d+)/,
    explain: (m) => `TP ${m[2]} does not divide the model's ${m[1]} (attention heads or a weight's width); choose a TP that does (${divisors(Number(m[1])).join(', ')}).`,
  },
  ...TORCH_OOM_RULES,
  CUDA_DEVICE_RULE,
  {
    pattern: /argument --([a-z0-9-]+)(?:\/-\S+)?: invalid choice: '([^']*)'/,
    explain: (m) => `SGLang does not accept '${m[2]}' for --${m[1]}.`,
  },
  {
    pattern: /error: unrecognized arguments: (.+)/,
    explain: (m) =>
      `This SGLang does not know the argument(s) ${m[1]!.trim()}` + (m[1]!.includes('--config') ? ' (--config, which carries the replica secret, needs SGLang 0.5 or later)' : '; remove them from the extra arguments') + '.',
  },
  {
    pattern: /\[Errno 98\] (?:error while attempting to bind on address|Address already in use)/,
    explain: () => 'The port chosen for the replica was already taken; the next start picks another.',
  },
];

/** A plain-words reason for a failed SGLang start found in its log tail, or null when none is recognised. */
export function diagnoseSglangLog(logTail: string): string | null {
  return diagnoseWith(RULES, logTail);
}
