import { Worker } from 'bullmq';
import type { Db } from '../server/db/client';
import type { Readiness } from '../server/engines/types';
import { claimForDeployment } from '../server/lifecycle/model-config';
import { DEFAULT_RECONCILE, deploymentIds, reconcileDeployment, type ReconcileOptions } from '../server/lifecycle/reconcile';
import { errorMessage, log } from '../server/log';
import { enqueue, queue, queueDefinitions, queuePrefix } from '../server/queues';
import { bullConnectionOptions } from '../server/redis';

export const SWEEP_EVERY_MS = 3_000;

/**
 * Readiness of an external OpenAI-compatible endpoint: its model list answers. Kept here until the
 * upstream engine driver (server/engines/upstream) is registered, which also sends the endpoint's key.
 */
async function probeModels(_engine: string, url: string): Promise<Readiness> {
  const res = await fetch(`${url.replace(/\/+$/, '')}/v1/models`, { signal: AbortSignal.timeout(5_000) }).catch(() => null);
  return res?.ok ? 'ready' : 'loading';
}

export function reconcileOptions(db: Db, over: Partial<ReconcileOptions> = {}): ReconcileOptions {
  return { ...DEFAULT_RECONCILE, claimFor: claimForDeployment(db), probe: probeModels, ...over };
}

/**
 * The deploy queue's consumer: a job with a deployment id reconciles that deployment; the repeatable
 * sweep (no id) enqueues one job per deployment, each under its id, so a deployment already queued
 * is not queued twice.
 */
export async function startDeployWorker(db: Db, over: Partial<ReconcileOptions> & { sweepEveryMs?: number } = {}): Promise<Worker> {
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
