import { Worker } from 'bullmq';
import type { Db } from '../server/db/client';
import { eq } from 'drizzle-orm';
import { deployments } from '../server/db/schema';
import { checkUpstream } from '../server/engines/upstream/driver';
import { openUpstreamKey } from '../server/engines/upstream/keys';
import { claimForDeployment } from '../server/lifecycle/model-config';
import { DEFAULT_RECONCILE, deploymentIds, reconcileDeployment, type ReconcileOptions } from '../server/lifecycle/reconcile';
import { errorMessage, log } from '../server/log';
import { enqueue, queue, queueDefinitions, queuePrefix } from '../server/queues';
import { bullConnectionOptions } from '../server/redis';

export const SWEEP_EVERY_MS = 3_000;

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
export async function startDeployWorker(db: Db, over: Partial<ReconcileOptions> & { sweepEveryMs?: number; masterKey?: Buffer } = {}): Promise<Worker> {
  const options = reconcileOptions(db, over);
  const worker = new Worker(
    'deploy',
    async (job) => {
      const { deploymentId } = queueDefinitions.deploy.payload.parse(job.data);
      if (deploymentId) return reconcileDeployment(db, deploymentId, options);
      for (const id of await deploymentIds(db)) await enqueue('deploy', { deploymentId: id }, id);
    },
    { connection: bullConnectionOptions(), prefix: queuePrefix(), concurrency: queueDefinitions.deploy.concurrency },
  );
  worker.on('failed', (job, err) => log.warn('deploy job failed', { job: job?.id, error: errorMessage(err) }));
  await queue('deploy').upsertJobScheduler('deploy-sweep', { every: over.sweepEveryMs ?? SWEEP_EVERY_MS }, { name: 'sweep', data: {} });
  return worker;
}
