import type { Db } from '../server/db/client';
import { eq } from 'drizzle-orm';
import { deployments } from '../server/db/schema';
import { checkUpstream } from '../server/engines/upstream/driver';
import { openUpstreamKey } from '../server/engines/upstream/keys';
import { claimForDeployment } from '../server/gpu/placement/model-config';
import { DEFAULT_RECONCILE, deploymentIds, reconcileDeployment, type ReconcileOptions } from '../server/lifecycle/reconcile';
import { defineConsumer, enqueue } from '../server/core/queues';

/**
 * Readiness of an external OpenAI-compatible endpoint: its model list answers with the deployment's
 * sealed key (opened with the master key) and lists the model it expects.
 */
export function upstreamProbe(db: Db, masterKey: Buffer | undefined): ReconcileOptions['probe'] {
  return async (_engine, url, servedName) => {
    const [row] = await db.select({ spec: deployments.spec }).from(deployments).where(eq(deployments.name, servedName)).limit(1);
    const spec = (row?.spec ?? {}) as Record<string, unknown>;
    const key = masterKey ? await openUpstreamKey(db, masterKey, spec) : null;
    const model = (spec.upstream as { model?: string } | undefined)?.model;
    return (await checkUpstream(url, servedName, { key, model })).readiness;
  };
}

export function reconcileOptions(db: Db, over: Partial<ReconcileOptions> & { masterKey?: Buffer } = {}): ReconcileOptions {
  const { masterKey, ...rest } = over;
  return { ...DEFAULT_RECONCILE, claimFor: claimForDeployment(db), probe: upstreamProbe(db, masterKey), ...rest };
}

/**
 * The deploy queue's consumer: a job with a deployment id reconciles that deployment; the repeatable
 * sweep (no id) enqueues one job per deployment, each under its id, so a deployment already queued
 * is not queued twice.
 */
export function startDeployWorker(db: Db, over: Partial<ReconcileOptions> & { sweepEveryMs?: number; masterKey?: Buffer } = {}) {
  const options = reconcileOptions(db, over);
  return defineConsumer(
    'deploy',
    async ({ deploymentId }) => {
      if (deploymentId) return reconcileDeployment(db, deploymentId, options);
      for (const id of await deploymentIds(db)) await enqueue('deploy', { deploymentId: id });
    },
    { every: { 'deploy-sweep': over.sweepEveryMs } },
  );
}
