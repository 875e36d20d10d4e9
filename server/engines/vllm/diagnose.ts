/**
 * Recognises vLLM's start-up failures in its log and explains them in plain words. The patterns follow
 * vLLM's own messages (see fixtures/SOURCES.md for where each was recorded); the explanation says what
 * to change in the deployment, not what went wrong inside PyTorch.
 */
interface Rule {
  pattern: RegExp;
  explain(m: RegExpMatchArray): string;
}

const RULES: Rule[] = [
  {
    // V1: "To serve at least one request with the model's max seq len (N), (X GiB KV cache is needed, which is
    // larger than the available KV cache memory (Y GiB). Based on the available memory, the estimated maximum model length is M."
    pattern:
      /max seq len \((\d+)\),? \(?([\d.]+ GiB) KV cache is needed, which is larger than the available\s+KV cache memory \(([-\d.]+ GiB)\)(?:\.\s*(?:Based on the available memory, the )?[Ee]stimated maximum model length is (\d+))?/,
    explain: (m) =>
      `Not enough GPU memory for the KV cache: one sequence of max_model_len ${m[1]} needs ${m[2]}, but only ${m[3]} is left after the weights.` +
      (m[4] ? ` At most max_model_len ${m[4]} fits;` : '') +
      ' lower max_model_len, raise gpu_memory_utilization, or use more GPUs (a larger TP).',
  },
  {
    // V0: "The model's max seq len (N) is larger than the maximum number of tokens that can be stored in KV cache (M)."
    pattern: /max seq len \((\d+)\) is larger than the maximum number of tokens that can be\s+stored in KV cache \((\d+)\)/,
    explain: (m) =>
      `Not enough GPU memory for the KV cache: max_model_len ${m[1]} is more than the ${m[2]} tokens the cache can hold.` +
      ` Lower max_model_len to at most ${m[2]}, raise gpu_memory_utilization, or use more GPUs (a larger TP).`,
  },
  {
    pattern: /No available memory for the cache blocks/,
    explain: () =>
      'The weights left no GPU memory for the KV cache. Raise gpu_memory_utilization, free the GPU of other processes, use a quantized version, or use more GPUs (a larger TP).',
  },
  {
    pattern: /OutOfMemoryError: CUDA out of memory\. Tried to allocate ([\d.]+ [KMG]iB)\. GPU (\d+) has a total capacity of ([\d.]+ [KMG]iB) of which ([\d.]+ [KMG]iB) is free/,
    explain: (m) =>
      `The GPU ran out of memory while starting: it needed ${m[1]} more, and GPU ${m[2]} (${m[3]}) had only ${m[4]} free.` +
      ' Another process may hold the GPU; otherwise lower gpu_memory_utilization or max_model_len, use a quantized version, or use more GPUs (a larger TP).',
  },
  {
    pattern: /OutOfMemoryError: CUDA out of memory/,
    explain: () =>
      'The GPU ran out of memory while starting. Another process may hold the GPU; otherwise lower max_model_len, use a quantized version, or use more GPUs (a larger TP).',
  },
  {
    pattern: /Total number of attention heads \((\d+)\)\s+must be divisible by tensor parallel size \((\d+)\)/,
    explain: (m) => `TP ${m[2]} does not divide the model's ${m[1]} attention heads; choose a TP that does (${divisors(Number(m[1])).join(', ')}).`,
  },
  {
    pattern: /World size \((\d+)\) is larger than the number of available GPUs \((\d+)\)/,
    explain: (m) => `The replica needs ${m[1]} GPUs (TP x PP) but the engine could see only ${m[2]}; the placement and CUDA_VISIBLE_DEVICES disagree, or a GPU is missing.`,
  },
  {
    pattern: /number of required GPUs exceeds the total number of available GPUs/,
    explain: () => 'The replica needs more GPUs (TP x PP) than the engine could find; check the placement and that every GPU is visible.',
  },
  {
    pattern: /local_world_size \((\d+)\) must be less than or equal to the number of visible devices \((\d+)\)/,
    explain: (m) => `The replica needs ${m[1]} GPUs on this node but only ${m[2]} are visible to it; check the placement and CUDA_VISIBLE_DEVICES.`,
  },
  {
    pattern: /Invalid repository ID or local directory specified: '([^']*)'/,
    explain: (m) => `vLLM found no model at '${m[1]}': the directory is missing or has no config.json, or the repository id is wrong (this install works offline, so the weights must be on the node).`,
  },
  {
    pattern: /(?:RepositoryNotFoundError|is not a local folder and is not a valid model identifier)/,
    explain: () => 'vLLM found no model at the given location: the directory is missing or the repository id is wrong (this install works offline, so the weights must be on the node).',
  },
  {
    pattern: /The quantization method (\S+) is not supported for the current GPU\. Minimum capability: (\d+)\. Current capability: (\d+)/,
    explain: (m) =>
      `This GPU cannot run ${m[1]} weights: it needs compute capability ${Number(m[2]) / 10}, and the GPU has ${Number(m[3]) / 10}. Use a newer GPU (a node label) or another quantization.`,
  },
  {
    pattern: /Unknown quantization method: (\S*?)\.? Must be one of/,
    explain: (m) => `This vLLM does not know the quantization '${m[1]}'; choose another quantization or upgrade vLLM.`,
  },
  {
    pattern: /Quantization method specified in the model config \((\S+)\) does not match the quantization method specified in the `quantization` argument \((\S+)\)/,
    explain: (m) => `The checkpoint is quantized with ${m[1]}, but the deployment asks for ${m[2]}; set the quantization to ${m[1]} (or leave it unset).`,
  },
  {
    pattern: /argument --([a-z0-9-]+)(?:\/-\w+)?: invalid choice: '([^']*)'/,
    explain: (m) => `vLLM does not accept '${m[2]}' for --${m[1]}.`,
  },
  {
    pattern: /vllm: error: unrecognized arguments: (.+)/,
    explain: (m) => `This vLLM does not know the argument(s) ${m[1]!.trim()}; remove them from the extra arguments.`,
  },
  {
    pattern: /\[Errno 98\] (?:error while attempting to bind on address|Address already in use)/,
    explain: () => 'The port chosen for the replica was already taken; the next start picks another.',
  },
];

function divisors(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= Math.min(n, 64); d++) if (n % d === 0) out.push(d);
  return out;
}

/** A plain-words reason for a failed vLLM start found in its log tail, or null when none is recognised. */
export function diagnoseVllmLog(logTail: string): string | null {
  // The most specific message wins over the generic traceback lines printed around it.
  for (const rule of RULES) {
    const m = logTail.match(rule.pattern);
    if (m) return rule.explain(m);
  }
  return null;
}
