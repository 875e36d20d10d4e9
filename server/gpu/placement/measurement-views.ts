import { desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { deployments, modelVersions, models, replicaStartMeasurements } from '../../db/schema';

/** Signed error of a prediction against what was measured, in percent of the measurement; null when either is missing. */
export function errorPct(predicted: number | null, measured: number | null): number | null {
  if (predicted === null || measured === null || measured === 0) return null;
  return Math.round(((predicted - measured) / Math.abs(measured)) * 1000) / 10;
}

const figures = {
  predictedWeightsBytes: replicaStartMeasurements.predictedWeightsBytes,
  measuredWeightsBytes: replicaStartMeasurements.measuredWeightsBytes,
  predictedKvCacheBytes: replicaStartMeasurements.predictedKvCacheBytes,
  measuredKvCacheBytes: replicaStartMeasurements.measuredKvCacheBytes,
  predictedMaxConcurrency: replicaStartMeasurements.predictedMaxConcurrency,
  measuredMaxConcurrency: replicaStartMeasurements.measuredMaxConcurrency,
};

/** A deployment's measured starts, newest first: predicted beside measured, per replica start. */
export async function listStartMeasurements(db: Db, deploymentId: string, limit = 20) {
  return db
    .select({
      id: replicaStartMeasurements.id,
      replicaId: replicaStartMeasurements.replicaId,
      measuredAt: replicaStartMeasurements.measuredAt,
      nodeName: replicaStartMeasurements.nodeName,
      gpuName: replicaStartMeasurements.gpuName,
      tp: replicaStartMeasurements.tp,
      pp: replicaStartMeasurements.pp,
      dtype: replicaStartMeasurements.dtype,
      quantization: replicaStartMeasurements.quantization,
      maxModelLen: replicaStartMeasurements.maxModelLen,
      plannedFrom: replicaStartMeasurements.plannedFrom,
      claimBytes: replicaStartMeasurements.claimBytes,
      measuredNonTorchBytes: replicaStartMeasurements.measuredNonTorchBytes,
      measuredActivationBytes: replicaStartMeasurements.measuredActivationBytes,
      measuredCudaGraphBytes: replicaStartMeasurements.measuredCudaGraphBytes,
      measuredKvCacheTokens: replicaStartMeasurements.measuredKvCacheTokens,
      logWording: replicaStartMeasurements.logWording,
      engineVersion: replicaStartMeasurements.engineVersion,
      ...figures,
    })
    .from(replicaStartMeasurements)
    .where(eq(replicaStartMeasurements.deploymentId, deploymentId))
    .orderBy(desc(replicaStartMeasurements.measuredAt))
    .limit(limit);
}

/**
 * The fleet's estimate errors: for each model version, dtype, quantization, TP and GPU type, the latest
 * measured start's predicted and measured figures and the error of each (positive: the estimate was high).
 */
export async function estimateErrors(db: Db) {
  const latest = db
    .selectDistinctOn(
      [replicaStartMeasurements.modelVersionId, replicaStartMeasurements.dtype, replicaStartMeasurements.quantization, replicaStartMeasurements.tp, replicaStartMeasurements.gpuName],
      {
        modelVersionId: replicaStartMeasurements.modelVersionId,
        dtype: replicaStartMeasurements.dtype,
        quantization: replicaStartMeasurements.quantization,
        tp: replicaStartMeasurements.tp,
        gpuName: replicaStartMeasurements.gpuName,
        deploymentId: replicaStartMeasurements.deploymentId,
        measuredAt: replicaStartMeasurements.measuredAt,
        starts: sql<number>`count(*) over (partition by ${replicaStartMeasurements.modelVersionId}, ${replicaStartMeasurements.dtype}, ${replicaStartMeasurements.quantization}, ${replicaStartMeasurements.tp}, ${replicaStartMeasurements.gpuName})::int`.as('starts'),
        ...figures,
      },
    )
    .from(replicaStartMeasurements)
    .orderBy(
      replicaStartMeasurements.modelVersionId,
      replicaStartMeasurements.dtype,
      replicaStartMeasurements.quantization,
      replicaStartMeasurements.tp,
      replicaStartMeasurements.gpuName,
      desc(replicaStartMeasurements.measuredAt),
    )
    .as('latest');
  const rows = await db
    .select({
      row: {
        modelVersionId: latest.modelVersionId,
        dtype: latest.dtype,
        quantization: latest.quantization,
        tp: latest.tp,
        gpuName: latest.gpuName,
        measuredAt: latest.measuredAt,
        starts: latest.starts,
        predictedWeightsBytes: latest.predictedWeightsBytes,
        measuredWeightsBytes: latest.measuredWeightsBytes,
        predictedKvCacheBytes: latest.predictedKvCacheBytes,
        measuredKvCacheBytes: latest.measuredKvCacheBytes,
        predictedMaxConcurrency: latest.predictedMaxConcurrency,
        measuredMaxConcurrency: latest.measuredMaxConcurrency,
      },
      model: models.name,
      version: modelVersions.version,
      deployment: deployments.name,
    })
    .from(latest)
    .leftJoin(modelVersions, eq(modelVersions.id, latest.modelVersionId))
    .leftJoin(models, eq(models.id, modelVersions.modelId))
    .leftJoin(deployments, eq(deployments.id, latest.deploymentId));
  return rows
    .map(({ row, model, version, deployment }) => ({
      ...row,
      model: model ? `${model}:${version}` : null,
      deployment,
      weightsErrorPct: errorPct(row.predictedWeightsBytes, row.measuredWeightsBytes),
      kvCacheErrorPct: errorPct(row.predictedKvCacheBytes, row.measuredKvCacheBytes),
      concurrencyErrorPct: errorPct(row.predictedMaxConcurrency, row.measuredMaxConcurrency),
    }))
    .sort((a, b) => (a.model ?? '').localeCompare(b.model ?? '') || a.tp - b.tp || (a.gpuName ?? '').localeCompare(b.gpuName ?? ''));
}
