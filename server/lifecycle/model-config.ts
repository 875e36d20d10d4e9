import fs from 'node:fs';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { gpus, modelVersions } from '../db/schema';
import { estimateMemory, readGgufModel, type GgufModel } from '../gpu/estimator';
import type { ClaimPerGpu } from '../gpu/planner';
import { DomainError } from '../security/errors';
import type { DeploymentSpec } from './deployment-spec';
import type { DryRunEstimate } from './dry-run';

/** What the estimator reads for a version: its Hugging Face config.json, or the GGUF file's header. */
export function loadModelConfig(version: { format: string; location: string }): unknown | GgufModel {
  if (version.format === 'gguf') return readGgufModel(version.location);
  const file = path.join(version.location, 'config.json');
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch (e) {
    throw new DomainError('BAD_REQUEST', `cannot read ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
}

function estimateSpec(spec: DeploymentSpec, tp: number, pp: number, gpuMemoryBytes?: number) {
  return { tp, pp, dtype: spec.dtype, quantization: spec.quantization, maxModelLen: spec.maxModelLen, gpuMemoryUtilization: spec.gpuMemoryUtilization, gpuMemoryBytes };
}

function claimFrom(config: unknown, spec: DeploymentSpec): ClaimPerGpu {
  return (tp, pp) => {
    const e = estimateMemory(config, estimateSpec(spec, tp, pp));
    return e.tpValid && !e.error ? e.perGpuBytes : { error: e.error ?? `tensor parallel ${tp} is not valid for this model` };
  };
}

/** The estimate of a version under a spec, for the dry run; the largest GPU in the fleet sizes the sequence count. */
export async function estimateForVersion(db: Db, modelVersionId: string, spec: DeploymentSpec): Promise<DryRunEstimate | undefined> {
  const [version] = await db.select().from(modelVersions).where(eq(modelVersions.id, modelVersionId));
  if (!version) throw new DomainError('BAD_REQUEST', 'modelVersionId: no such model version');
  const config = loadModelConfig(version);
  const [{ largest }] = (await db.select({ largest: sql<number | null>`max(${gpus.memoryTotalMiB})` }).from(gpus)) as [{ largest: number | null }];
  const gpuMemoryBytes = largest ? largest * 1024 * 1024 : undefined;
  return {
    claimPerGpu: claimFrom(config, spec),
    breakdown(tp, pp) {
      const e = estimateMemory(config, estimateSpec(spec, tp, pp, gpuMemoryBytes));
      return { perGpu: e.perGpu, maxConcurrentSequences: e.maxConcurrentSequences };
    },
  };
}

/** The reconciler's claim function for a deployment's model version (undefined without a version). */
export function claimForDeployment(db: Db) {
  return async (deployment: { modelVersionId: string | null }, spec: DeploymentSpec): Promise<ClaimPerGpu | undefined> => {
    if (!deployment.modelVersionId) return undefined;
    const [version] = await db.select().from(modelVersions).where(eq(modelVersions.id, deployment.modelVersionId));
    return version ? claimFrom(loadModelConfig(version), spec) : undefined;
  };
}
