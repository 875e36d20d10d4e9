import { and, desc, eq, isNotNull, isNull } from 'drizzle-orm';
import type { DbOrTx } from '../../db/types';
import { deployments, replicaStartMeasurements } from '../../db/schema';
import type { DeploymentSpec } from '../../engines/deployment-spec';
import { engineEstimateKnobs } from '../../engines/estimate-spec';
import { EstimatorInputError, estimateMemory, type MemoryEstimate } from '../estimator';
import type { ClaimPerGpu } from '../planner';
import { formatBytes } from '../planner';
import { measuredBasis } from './start-measurements';

/** The claim per GPU from the estimate, plus, per GPU type, what earlier starts of the same configuration measured. */
export type PlacementClaim = ClaimPerGpu & { learned?: LearnedClaims };

export interface LearnedClaims {
  /** GPU types (nvidia-smi names) with at least one measured start of this model version, dtype and quantization. */
  gpuNames: string[];
  /** The claim on nodes of this GPU type: measured where a start of that TP was, the estimate elsewhere. */
  claimOn(gpuName: string): ClaimPerGpu;
  /** Why claimOn(gpuName)(tp) is what it is, in plain words; null when it is the estimate. */
  basis(gpuName: string, tp: number): string | null;
}

interface Measured {
  tp: number;
  pp: number;
  gpuName: string;
  basis: string;
  weightsBytes: number;
  nonTorchBytes: number | null;
  activationBytes: number | null;
  cudaGraphBytes: number | null;
}

export function estimateSpec(spec: DeploymentSpec, tp: number, pp: number, gpuMemoryBytes?: number) {
  return { tp, pp, dtype: spec.dtype, quantization: spec.quantization, maxModelLen: spec.maxModelLen, gpuMemoryUtilization: spec.gpuMemoryUtilization, gpuMemoryBytes, ...engineEstimateKnobs(spec) };
}

/**
 * A claim from the estimate of (tp, pp): `size` picks the bytes from it. A TP the model cannot split into,
 * or a shape or quantization the estimator refuses (an architecture it was not taught, a field it cannot
 * account for), is a placement that cannot be made, with the estimator's reason: the reconciler records
 * it as the deployment's "no placement" event instead of failing its transaction.
 */
function claimFromEstimate(config: unknown, spec: DeploymentSpec, tp: number, pp: number, size: (e: MemoryEstimate) => number): number | { error: string } {
  try {
    const e = estimateMemory(config, estimateSpec(spec, tp, pp));
    return e.tpValid && !e.error ? size(e) : { error: e.error ?? `tensor parallel ${tp} is not valid for this model` };
  } catch (e) {
    if (e instanceof EstimatorInputError) return { error: e.message };
    throw e;
  }
}

/** The estimator's claim: weights, activations, overhead and one max_model_len sequence of KV cache. */
export function estimatedClaim(config: unknown, spec: DeploymentSpec): ClaimPerGpu {
  return (tp, pp) => claimFromEstimate(config, spec, tp, pp, (e) => e.perGpuBytes);
}

/**
 * What a GPU must hold when vLLM already measured this configuration: the measured weights, non-torch
 * memory, activation peak and CUDA graphs, plus the estimator's KV cache of one sequence (it depends on
 * max_model_len, which the new spec may change). A figure the log did not give falls back to the estimate's.
 */
function measuredClaim(config: unknown, spec: DeploymentSpec, m: Measured, tp: number, pp: number): number | { error: string } {
  return claimFromEstimate(config, spec, tp, pp, (e) => {
    const overhead = m.nonTorchBytes !== null && m.cudaGraphBytes !== null ? m.nonTorchBytes + m.cudaGraphBytes : Math.max(e.perGpu.overheadBytes, (m.nonTorchBytes ?? 0) + (m.cudaGraphBytes ?? 0));
    return Math.ceil(e.perGpu.kvCacheBytes + m.weightsBytes + (m.activationBytes ?? e.perGpu.activationBytes) + overhead);
  });
}

/** The latest measured start per GPU type and TP of this version, dtype and quantization. */
async function measuredStarts(db: DbOrTx, modelVersionId: string, spec: DeploymentSpec): Promise<Measured[]> {
  const rows = await db
    .select({ m: replicaStartMeasurements, deploymentName: deployments.name })
    .from(replicaStartMeasurements)
    .innerJoin(deployments, eq(deployments.id, replicaStartMeasurements.deploymentId))
    .where(
      and(
        eq(replicaStartMeasurements.modelVersionId, modelVersionId),
        eq(replicaStartMeasurements.dtype, spec.dtype),
        spec.quantization === null ? isNull(replicaStartMeasurements.quantization) : eq(replicaStartMeasurements.quantization, spec.quantization),
        isNotNull(replicaStartMeasurements.measuredWeightsBytes),
        isNotNull(replicaStartMeasurements.gpuName),
      ),
    )
    .orderBy(desc(replicaStartMeasurements.measuredAt))
    .limit(200);
  const latest = new Map<string, Measured>();
  for (const { m, deploymentName } of rows) {
    const key = `${m.gpuName}/${m.tp}`;
    if (latest.has(key)) continue;
    latest.set(key, {
      tp: m.tp,
      pp: m.pp,
      gpuName: m.gpuName!,
      weightsBytes: m.measuredWeightsBytes!,
      nonTorchBytes: m.measuredNonTorchBytes,
      activationBytes: m.measuredActivationBytes,
      cudaGraphBytes: m.measuredCudaGraphBytes,
      basis: `${measuredBasis({ measuredAt: m.measuredAt, deploymentName })}: weights ${formatBytes(m.measuredWeightsBytes!)} per GPU`,
    });
  }
  return [...latest.values()];
}

/** The claim for a version under a spec: the estimate, taught by every measured start of the same configuration. */
export async function learnedClaim(db: DbOrTx, modelVersionId: string, config: unknown, spec: DeploymentSpec): Promise<PlacementClaim> {
  const estimate = estimatedClaim(config, spec);
  const measured = spec.engine === 'vllm' ? await measuredStarts(db, modelVersionId, spec) : [];
  if (!measured.length) return estimate;
  const find = (gpuName: string, tp: number, pp: number) => measured.find((m) => m.gpuName === gpuName && m.tp === tp && m.pp === pp);
  const claim: PlacementClaim = (tp, pp) => estimate(tp, pp);
  claim.learned = {
    gpuNames: [...new Set(measured.map((m) => m.gpuName))],
    claimOn: (gpuName) => (tp, pp) => {
      const m = find(gpuName, tp, pp);
      return m ? measuredClaim(config, spec, m, tp, pp) : estimate(tp, pp);
    },
    basis: (gpuName, tp) => find(gpuName, tp, spec.pp)?.basis ?? null,
  };
  return claim;
}
