import type { DeploymentSpec } from '../deployment-spec';
import { extraArgValue } from '../extra-args';

/** TGI's --max-concurrent-requests default (launcher/src/main.rs). */
const TGI_MAX_CONCURRENT_REQUESTS = 128;

const intFlag = (spec: DeploymentSpec, flag: string) => {
  const raw = extraArgValue(spec.extraArgs, flag);
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
};

/**
 * TGI's knobs in the memory estimator's terms (its spec speaks vLLM's). --cuda-memory-fraction caps what
 * the shards may allocate, as gpu_memory_utilization does; the KV cache fills what the warm-up leaves,
 * as in vLLM. --max-total-tokens is one sequence's length (max_model_len). The warm-up's activation peak
 * is one prefill of --max-batch-prefill-tokens (default max_input_tokens + 50), vLLM's
 * max_num_batched_tokens; --max-concurrent-requests bounds the sequences in flight.
 */
export function tgiEstimateSpec(spec: DeploymentSpec) {
  const maxModelLen = spec.maxModelLen;
  const prefill = intFlag(spec, '--max-batch-prefill-tokens') ?? (maxModelLen ? maxModelLen - 1 + 50 : undefined);
  return {
    gpuMemoryUtilization: spec.gpuMemoryUtilization,
    maxModelLen,
    maxNumBatchedTokens: prefill,
    maxNumSeqs: intFlag(spec, '--max-concurrent-requests') ?? TGI_MAX_CONCURRENT_REQUESTS,
  };
}
