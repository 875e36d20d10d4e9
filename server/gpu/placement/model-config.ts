import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { gpus, modelVersions } from '../../db/schema';
import { estimateMemory } from '../estimator';
import { DomainError } from '../../core/errors';
import type { DeploymentSpec } from '../../engines/deployment-spec';
import type { DryRunEstimate } from './dry-run';
import { loadModelConfig } from './config-file';
import { estimateSpec, learnedClaim, type PlacementClaim } from './learned-claim';

export { loadModelConfig };

/** The estimate of a version under a spec, for the dry run; the largest GPU in the fleet sizes the sequence count. */
export async function estimateForVersion(db: Db, modelVersionId: string, spec: DeploymentSpec): Promise<DryRunEstimate | undefined> {
  const [version] = await db.select().from(modelVersions).where(eq(modelVersions.id, modelVersionId));
  if (!version) throw new DomainError('BAD_REQUEST', 'modelVersionId: no such model version');
  const config = loadModelConfig(version);
  const [{ largest }] = (await db.select({ largest: sql<number | null>`max(${gpus.memoryTotalMiB})` }).from(gpus)) as [{ largest: number | null }];
  const gpuMemoryBytes = largest ? largest * 1024 * 1024 : undefined;
  return {
    claimPerGpu: await learnedClaim(db, version.id, config, spec),
    breakdown(tp, pp) {
      const e = estimateMemory(config, estimateSpec(spec, tp, pp, gpuMemoryBytes));
      return { perGpu: e.perGpu, maxConcurrentSequences: e.maxConcurrentSequences };
    },
  };
}

/** The reconciler's claim function for a deployment's model version (undefined without a version): measured starts teach it. */
export function claimForDeployment(db: Db) {
  return async (deployment: { modelVersionId: string | null }, spec: DeploymentSpec): Promise<PlacementClaim | undefined> => {
    if (!deployment.modelVersionId) return undefined;
    const [version] = await db.select().from(modelVersions).where(eq(modelVersions.id, deployment.modelVersionId));
    return version ? learnedClaim(db, version.id, loadModelConfig(version), spec) : undefined;
  };
}
