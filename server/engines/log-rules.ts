/**
 * Explaining a failed engine start from its log: each engine lists rules (a pattern from the engine's
 * own recorded messages, and what to change in the deployment), most specific first.
 */
export interface LogRule {
  pattern: RegExp;
  explain(m: RegExpMatchArray): string;
}

/** The first rule that matches the log tail, explained; null when none does. */
export function diagnoseWith(rules: readonly LogRule[], logTail: string): string | null {
  for (const rule of rules) {
    const m = logTail.match(rule.pattern);
    if (m) return rule.explain(m);
  }
  return null;
}

/**
 * PyTorch's own out-of-memory message, whichever engine printed it (torch 2.1 spells "capacty"). Engines
 * list it after their own, more specific, memory messages.
 */
export const TORCH_OOM_RULES: LogRule[] = [
  {
    pattern: /CUDA out of memory\. Tried to allocate ([\d.]+ [KMG]iB)\. GPU (\d+) has a total capac(?:i)?ty of ([\d.]+ [KMG]iB) of which ([\d.]+ [KMG]iB) is free/,
    explain: (m) =>
      `The GPU ran out of memory: it needed ${m[1]} more, and GPU ${m[2]} (${m[3]}) had only ${m[4]} free.` +
      ' Another process may hold the GPU; otherwise lower gpu_memory_utilization or max_model_len, use a quantized version, or use more GPUs (a larger TP).',
  },
  {
    pattern: /(?:OutOfMemoryError|CUDA out of memory)/,
    explain: () => 'The GPU ran out of memory while starting. Another process may hold the GPU; otherwise lower max_model_len, use a quantized version, or use more GPUs (a larger TP).',
  },
];

/** CUDA's answer to a process asking for a GPU index it cannot see: the placement and CUDA_VISIBLE_DEVICES disagree. */
export const CUDA_DEVICE_RULE: LogRule = {
  pattern: /CUDA error: invalid device ordinal/,
  explain: () => 'The engine asked for more GPUs than it could see: the placement and CUDA_VISIBLE_DEVICES disagree, or a GPU is missing.',
};

/** Divisors of n up to 64: the TP sizes worth suggesting. */
export function divisors(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= Math.min(n, 64); d++) if (n % d === 0) out.push(d);
  return out;
}
