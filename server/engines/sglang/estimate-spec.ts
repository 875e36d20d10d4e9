import type { DeploymentSpec } from '../deployment-spec';
import { extraArgValue } from '../extra-args';

const intFlag = (spec: DeploymentSpec, flag: string) => {
  const raw = extraArgValue(spec.extraArgs, flag);
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
};

/**
 * SGLang's knobs in the memory estimator's terms (its spec speaks vLLM's). --mem-fraction-static is the
 * share of each GPU for weights and the KV pool; SGLang's activations and CUDA graphs live in the rest.
 * Mapped onto gpu_memory_utilization, the estimator counts them inside that share too: a conservative
 * fit (it may refuse a placement SGLang would squeeze in, never the reverse). --context-length is
 * max_model_len; --chunked-prefill-size bounds one prefill (max_num_batched_tokens) and
 * --max-running-requests the sequences in flight (max_num_seqs), when the extra arguments set them.
 */
export function sglangEstimateSpec(spec: DeploymentSpec) {
  return {
    gpuMemoryUtilization: spec.gpuMemoryUtilization,
    maxModelLen: spec.maxModelLen,
    maxNumBatchedTokens: intFlag(spec, '--chunked-prefill-size'),
    maxNumSeqs: intFlag(spec, '--max-running-requests'),
  };
}
