import { and, desc, eq, inArray, isNotNull, isNull, ne, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import type { DbOrTx } from '../../db/types';
import { allocations, deploymentReplicas, deployments, gpuNodes, gpus, modelVersions, replicaStartMeasurements } from '../../db/schema';
import { storedSpec } from '../../engines/stored-spec';
import type { StartupMeasurement } from '../../engines/vllm/startup-log';
import { estimateMemory } from '../estimator';
import { loadModelConfig } from './config-file';

export type StartMeasurementRow = typeof replicaStartMeasurements.$inferSelect;

/** What makes two starts comparable: the same weights, split and kind of GPU. */
export interface MeasurementKey {
  modelVersionId: string;
  dtype: string;
  quantization: string | null;
  tp: number;
  gpuName: string | null;
}

const round = (n: number | null | undefined) => (n === null || n === undefined || !Number.isFinite(n) ? null : Math.round(n));

/** The estimator's figures for the placement the replica got: the prediction its start is compared with. */
function predict(version: { format: string; location: string } | undefined, spec: ReturnType<typeof storedSpec>, tp: number, gpuMemoryBytes: number | undefined) {
  if (!version) return null;
  try {
    const e = estimateMemory(loadModelConfig(version), {
      tp,
      pp: spec.pp,
      dtype: spec.dtype,
      quantization: spec.quantization,
      maxModelLen: spec.maxModelLen,
      gpuMemoryUtilization: spec.gpuMemoryUtilization,
      gpuMemoryBytes,
    });
    const pool = e.budgetBytes === undefined ? null : e.budgetBytes - e.perGpu.weightsBytes - e.perGpu.activationBytes - e.perGpu.overheadBytes;
    return {
      predictedWeightsBytes: e.perGpu.weightsBytes,
      predictedActivationBytes: e.perGpu.activationBytes,
      predictedOverheadBytes: e.perGpu.overheadBytes,
      predictedKvCacheBytes: pool,
      // vLLM's "Maximum concurrency" is the pool over one max_model_len sequence, unrounded: compare like with like.
      predictedMaxConcurrency: pool === null || e.perGpu.kvCacheBytes <= 0 ? null : Math.max(0, pool / e.perGpu.kvCacheBytes),
      maxModelLen: e.maxModelLen,
    };
  } catch {
    // A config the estimator cannot read still gets its measurement stored: the prediction is what is missing.
    return null;
  }
}

/**
 * Stores what a replica's start measured beside what Enclave predicted for its placement, once per start
 * (replica and startedAt): a second report of the same start changes nothing ({ row: null }); null when
 * the replica is not on the reporting agent's node. Scoped to the reporting agent's node like every other replica report. Not audited: like replica status reports and heartbeats,
 * it is the system's telemetry from an agent, not a person's action.
 */
export async function recordStartMeasurement(db: Db, nodeName: string, replicaId: string, measured: StartupMeasurement): Promise<{ row: StartMeasurementRow | null } | null> {
  const [replica] = await db
    .select({ replica: deploymentReplicas, deployment: deployments })
    .from(deploymentReplicas)
    .innerJoin(deployments, eq(deployments.id, deploymentReplicas.deploymentId))
    .where(and(eq(deploymentReplicas.id, replicaId), eq(deploymentReplicas.nodeName, nodeName)));
  if (!replica) return null;
  const { deployment } = replica;
  const spec = storedSpec(deployment);
  const gpuIndices = replica.replica.gpuIndices ?? [];
  const tp = spec.tp ?? Math.max(1, Math.floor(gpuIndices.length / spec.pp));
  const [version] = deployment.modelVersionId ? await db.select().from(modelVersions).where(eq(modelVersions.id, deployment.modelVersionId)) : [];
  const devices = gpuIndices.length
    ? await db
        .select({ name: gpus.name, memoryTotalMiB: gpus.memoryTotalMiB })
        .from(gpus)
        .innerJoin(gpuNodes, eq(gpuNodes.id, gpus.nodeId))
        .where(and(eq(gpuNodes.name, nodeName), inArray(gpus.index, gpuIndices)))
    : [];
  const gpu = devices[0];
  const [claim] = await db
    .select({ bytes: sql<string | null>`max(${allocations.memoryBytes})` })
    .from(allocations)
    .where(and(eq(allocations.holderKind, 'replica'), eq(allocations.holderId, replicaId), isNull(allocations.releasedAt)));
  const predicted = predict(version, spec, tp, gpu?.memoryTotalMiB ? gpu.memoryTotalMiB * 1024 * 1024 : undefined);
  const key: MeasurementKey | null = version ? { modelVersionId: version.id, dtype: spec.dtype, quantization: spec.quantization, tp, gpuName: gpu?.name ?? null } : null;
  const earlier = key ? await latestMeasurement(db, key, replicaId) : undefined;

  const [row] = await db
    .insert(replicaStartMeasurements)
    .values({
      deploymentId: deployment.id,
      replicaId,
      replicaStartedAt: replica.replica.startedAt,
      modelVersionId: version?.id ?? null,
      engine: deployment.engine,
      dtype: spec.dtype,
      quantization: spec.quantization,
      tp,
      pp: spec.pp,
      maxModelLen: spec.maxModelLen ?? predicted?.maxModelLen ?? measured.concurrencyTokens,
      nodeName,
      gpuName: gpu?.name ?? null,
      gpuMemoryTotalMiB: gpu?.memoryTotalMiB ?? null,
      claimBytes: claim?.bytes ? Number(claim.bytes) : null,
      plannedFrom: earlier ? measuredBasis(earlier) : 'estimate',
      predictedWeightsBytes: round(predicted?.predictedWeightsBytes),
      predictedActivationBytes: round(predicted?.predictedActivationBytes),
      predictedOverheadBytes: round(predicted?.predictedOverheadBytes),
      predictedKvCacheBytes: round(predicted?.predictedKvCacheBytes),
      predictedMaxConcurrency: predicted?.predictedMaxConcurrency ?? null,
      measuredWeightsBytes: round(measured.weightsBytes),
      measuredNonTorchBytes: round(measured.nonTorchBytes),
      measuredActivationBytes: round(measured.activationBytes),
      measuredCudaGraphBytes: round(measured.cudaGraphBytes),
      measuredKvCacheBytes: round(measured.kvCacheBytes),
      measuredKvCacheTokens: round(measured.kvCacheTokens),
      measuredGpuBlocks: round(measured.gpuBlocks),
      measuredMaxConcurrency: measured.maxConcurrency,
      logWording: measured.wording,
      engineVersion: measured.version,
    })
    .onConflictDoNothing({ target: [replicaStartMeasurements.replicaId, replicaStartMeasurements.replicaStartedAt] })
    .returning();
  return { row: row ?? null };
}

/** The latest start of the same model version, dtype, quantization, TP and GPU type that measured its weights. */
export async function latestMeasurement(db: DbOrTx, key: MeasurementKey, notReplicaId?: string): Promise<(StartMeasurementRow & { deploymentName: string }) | undefined> {
  const [row] = await db
    .select({ m: replicaStartMeasurements, deploymentName: deployments.name })
    .from(replicaStartMeasurements)
    .innerJoin(deployments, eq(deployments.id, replicaStartMeasurements.deploymentId))
    .where(
      and(
        eq(replicaStartMeasurements.modelVersionId, key.modelVersionId),
        eq(replicaStartMeasurements.dtype, key.dtype),
        key.quantization === null ? isNull(replicaStartMeasurements.quantization) : eq(replicaStartMeasurements.quantization, key.quantization),
        eq(replicaStartMeasurements.tp, key.tp),
        key.gpuName === null ? isNull(replicaStartMeasurements.gpuName) : eq(replicaStartMeasurements.gpuName, key.gpuName),
        isNotNull(replicaStartMeasurements.measuredWeightsBytes),
        notReplicaId ? ne(replicaStartMeasurements.replicaId, notReplicaId) : undefined,
      ),
    )
    .orderBy(desc(replicaStartMeasurements.measuredAt))
    .limit(1);
  return row ? { ...row.m, deploymentName: row.deploymentName } : undefined;
}

/** "measured on 2026-12-05 start of llama-8b": the words a plan uses when it reuses a measured start. */
export function measuredBasis(m: { measuredAt: Date; deploymentName: string }): string {
  return `measured on ${m.measuredAt.toISOString().slice(0, 10)} start of ${m.deploymentName}`;
}
