import os from 'node:os';
import { and, eq, inArray, ne } from 'drizzle-orm';
import type { Db } from '../db/client';
import { deploymentReplicas, deployments, modelVersions } from '../db/schema';
import type { Env } from '../env';
import { errorMessage, log } from '../log';
import { createLocalRuntime, type ReplicaStatusEvent } from '../runtime/local';

export interface AgentRole {
  stop(): Promise<void>;
}

const RECONCILE_MS = 5_000;

/**
 * The agent role on this host: runs the llamacpp deployments' replicas as supervised local processes
 * and keeps deployment_replicas in step with them, so the gateway routes only to ready replicas.
 */
export async function startAgent(db: Db, env: Env, nodeName = os.hostname()): Promise<AgentRole> {
  // Processes from an earlier run of this agent ended with it (stop() stops them all); their rows are history.
  await db
    .update(deploymentReplicas)
    .set({ status: 'stopped', updatedAt: new Date() })
    .where(and(eq(deploymentReplicas.nodeName, nodeName), ne(deploymentReplicas.status, 'stopped')));

  const setDeploymentStatus = async (deploymentId: string) => {
    const rows = await db.select({ status: deploymentReplicas.status }).from(deploymentReplicas).where(and(eq(deploymentReplicas.deploymentId, deploymentId), ne(deploymentReplicas.status, 'stopped')));
    const ready = rows.filter((r) => r.status === 'ready').length;
    const status = ready > 0 ? (ready === rows.length ? 'ready' : 'degraded') : rows.some((r) => r.status === 'starting') ? 'starting' : 'failed';
    await db.update(deployments).set({ status, updatedAt: new Date() }).where(eq(deployments.id, deploymentId));
  };

  let stopping = false;
  const replicaDeployment = new Map<string, string>();
  const runtime = createLocalRuntime({
    onStatus: (event: ReplicaStatusEvent) => {
      const deploymentId = replicaDeployment.get(event.id);
      // While stopping, stop() records the final state itself (the pool may already be closing).
      if (!deploymentId || stopping) return;
      const patch: Partial<typeof deploymentReplicas.$inferInsert> = { status: event.status, updatedAt: new Date() };
      if (event.url) patch.url = event.url;
      if (event.port) patch.port = event.port;
      if (event.pid) patch.pid = event.pid;
      if (event.error) patch.lastError = event.error.slice(0, 2000);
      if (event.restarts !== undefined) patch.restarts = event.restarts;
      db.update(deploymentReplicas)
        .set(patch)
        .where(eq(deploymentReplicas.id, event.id))
        .then(() => setDeploymentStatus(deploymentId))
        .catch((e) => log.warn('agent could not record a replica status', { replica: event.id, error: errorMessage(e) }));
    },
  });

  const reconcile = async () => {
    const wanted = await db
      .select({ id: deployments.id, name: deployments.name, spec: deployments.spec, desired: deployments.desiredReplicas, location: modelVersions.location })
      .from(deployments)
      .innerJoin(modelVersions, eq(modelVersions.id, deployments.modelVersionId))
      .where(and(eq(deployments.engine, 'llamacpp'), ne(deployments.status, 'stopped')));
    const running = new Map<string, number>();
    for (const deploymentId of replicaDeployment.values()) running.set(deploymentId, (running.get(deploymentId) ?? 0) + 1);
    for (const d of wanted) {
      for (let i = running.get(d.id) ?? 0; i < d.desired && !stopping; i++) {
        const spec = d.spec as { threads?: number; context?: number; sequences?: number };
        const [row] = await db.insert(deploymentReplicas).values({ deploymentId: d.id, nodeName, url: '', status: 'starting' }).returning();
        replicaDeployment.set(row!.id, d.id);
        await setDeploymentStatus(d.id);
        runtime
          .start({
            id: row!.id,
            name: d.name,
            modelPath: d.location,
            threads: spec.threads ?? env.ENCLAVE_LLAMACPP_THREADS,
            context: spec.context ?? env.ENCLAVE_LLAMACPP_CONTEXT,
            sequences: spec.sequences ?? env.ENCLAVE_LLAMACPP_SEQUENCES,
          })
          .catch((e) => log.warn('engine failed to start', { deployment: d.name, error: errorMessage(e) }));
      }
    }
  };

  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    await reconcile().catch((e) => log.warn('agent reconcile failed', { error: errorMessage(e) }));
    if (!stopping) timer = setTimeout(loop, RECONCILE_MS);
  };
  await loop();

  return {
    async stop() {
      stopping = true;
      clearTimeout(timer);
      await runtime.stopAll();
      const ids = [...replicaDeployment.keys()];
      if (ids.length) await db.update(deploymentReplicas).set({ status: 'stopped', updatedAt: new Date() }).where(inArray(deploymentReplicas.id, ids)).catch(() => {});
      for (const deploymentId of new Set(replicaDeployment.values()))
        await db.update(deployments).set({ status: 'pending', updatedAt: new Date() }).where(eq(deployments.id, deploymentId)).catch(() => {});
    },
  };
}
