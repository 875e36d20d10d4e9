import type { DeploymentSpec } from './deployment-spec';
import { sglangEstimateSpec } from './sglang/estimate-spec';
import { tgiEstimateSpec } from './tgi/estimate-spec';

/**
 * The engine's own knobs in the memory estimator's vocabulary (vLLM's: gpuMemoryUtilization,
 * maxModelLen, maxNumBatchedTokens, maxNumSeqs), for placement to spread over its estimate spec.
 * vLLM's are the spec's own, so it adds nothing.
 */
export function engineEstimateKnobs(spec: DeploymentSpec): { gpuMemoryUtilization?: number; maxModelLen?: number; maxNumBatchedTokens?: number; maxNumSeqs?: number } {
  const knobs = spec.engine === 'tgi' ? tgiEstimateSpec(spec) : spec.engine === 'sglang' ? sglangEstimateSpec(spec) : {};
  // Undefined means "the estimator's default", which a spread would otherwise overwrite.
  return Object.fromEntries(Object.entries(knobs).filter(([, v]) => v !== undefined));
}
