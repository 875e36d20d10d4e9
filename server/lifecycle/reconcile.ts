import { and, count, eq, gte, ne } from 'drizzle-orm';
import type { Db } from '../db/client';
import { deploymentEvents, deploymentReplicas, deployments, isGpuEngine } from '../db/schema';
import type { Readiness } from '../engines/types';
import { formatBytes, type ClaimPerGpu, type Policy } from '../gpu/planner';
import { restartDelayMs, type BackoffPolicy } from '../process/backoff';
import type { DbOrTx } from '../db/types';
import type { DeploymentSpec } from '../engines/deployment-spec';
import { recordEvent, recordEventOnce } from './deployment-events';
import { deriveDeploymentStatus, failureStage } from './deployment-status';
import { stopReplicas } from './deployments';
import { assignReplica, choosePlacement, lockPlacement, releaseAllocations, type Choice } from '../gpu/placement/claims';
import { storedSpec } from '../engines/stored-spec';
import { enforceGroups, groupHosts, placeMembers } from './replica-groups';

type DeploymentRow = typeof deployments.$inferSelect;
type ReplicaRow = typeof deploymentReplicas.$inferSelect;

export interface ReconcileOptions {
  policy: Policy;
  backoff: BackoffPolicy;
  /** Restarts of one replica within giveUpWindowMs after which it is given up and the deployment fails. */
  giveUpAfter: number;
  giveUpWindowMs: number;
  /** The per-GPU claim of a GPU deployment (estimator on the version's config); undefined when unknown. */
  claimFor(deployment: DeploymentRow, spec: DeploymentSpec): Promise<ClaimPerGpu | undefined>;
  /** Readiness of a process-less (upstream) replica. */
  probe(engine: DeploymentSpec['engine'], url: string, servedName: string): Promise<Readiness>;
}

export const DEFAULT_RECONCILE = { policy: 'binpack', backoff: { baseMs: 2_000, maxMs: 60_000 }, giveUpAfter: 5, giveUpWindowMs: 10 * 60_000 } as const;

const short = (id: string) => id.slice(0, 8);
/** What a GPU placement's claim came from (a measured start or the estimate), for the event line. */
const claimedFrom = (choice: Extract<Choice, { feasible: true }>) => (choice.gpus.length && choice.basis ? `, claiming ${formatBytes(choice.claimBytes)} per GPU from ${choice.basis}` : '');

/** Which replicas go first when scaling down: the ones doing the least good, newest first. */
const STOP_ORDER: Record<string, number> = { failed: 0, starting: 1, unhealthy: 2, ready: 3 };

/**
 * Brings one deployment's replicas to what its row asks for. The database is the only memory (see
 * failureStage), so any worker may run this at any time, and a restarted worker simply carries on.
 * Network probes and file reads happen before the transaction; every write happens inside it, under
 * the deployment's row lock, so two reconciles of one deployment never both add a replica.
 */
export async function reconcileDeployment(db: Db, deploymentId: string, opts: ReconcileOptions): Promise<void> {
  const [snapshot] = await db.select().from(deployments).where(eq(deployments.id, deploymentId));
  if (!snapshot) return;
  const spec = storedSpec(snapshot);
  const probes = snapshot.engine === 'upstream' && snapshot.status !== 'stopped' ? await probeUpstream(db, snapshot, opts) : new Map<string, Readiness>();
  const claimPerGpu = isGpuEngine(snapshot.engine) ? await opts.claimFor(snapshot, spec).catch(() => undefined) : undefined;

  await db.transaction(async (tx) => {
    const [dep] = await tx.select().from(deployments).where(eq(deployments.id, deploymentId)).for('update');
    if (!dep) return;
    const listActive = () => tx.select().from(deploymentReplicas).where(and(eq(deploymentReplicas.deploymentId, dep.id), ne(deploymentReplicas.status, 'stopped')));
    // Multi-node replicas: a lost member fails its whole group; members of an ended start are stopped.
    await enforceGroups(tx, dep.id);
    let replicas = await listActive();

    if (dep.status === 'stopped' || dep.desiredReplicas === 0) {
      if (replicas.length) {
        await stopReplicas(tx, replicas.map((r) => r.id));
        await recordEvent(tx, dep.id, 'scale', `stopped ${replicas.length} replica(s)`);
      }
      await setStatus(tx, dep, 'stopped');
      return;
    }

    const place = async (): Promise<Choice> => {
      await lockPlacement(tx);
      return choosePlacement(tx, spec, { policy: opts.policy, claimPerGpu });
    };

    for (const r of replicas.filter((x) => x.status === 'failed')) await handleFailure(tx, dep, r, opts, place);
    replicas = await listActive();

    for (let missing = dep.desiredReplicas - replicas.length; missing > 0; missing--) {
      if (spec.engine === 'upstream') {
        const [row] = await tx.insert(deploymentReplicas).values({ deploymentId: dep.id, url: spec.upstream!.url, gpuIndices: [], status: 'starting' }).returning();
        await recordEvent(tx, dep.id, 'scale', `replica ${short(row!.id)} added for ${spec.upstream!.url}`, row!.id);
        continue;
      }
      const choice = await place();
      if (!choice.feasible) {
        await recordEventOnce(tx, dep.id, 'error', `no placement for ${missing} replica(s): ${choice.reasons.join('; ')}`);
        break;
      }
      const [row] = await tx.insert(deploymentReplicas).values({ deploymentId: dep.id, nodeName: choice.node, gpuIndices: choice.gpus, url: '', status: 'starting' }).returning();
      await assignReplica(tx, row!.id, choice);
      await placeMembers(tx, row!.id, 0, choice);
      await recordEvent(tx, dep.id, 'scale', `replica ${short(row!.id)} placed on ${choice.node}${choice.gpus.length ? ` GPUs ${choice.gpus.join(',')}` : ''}${groupHosts(choice)}${claimedFrom(choice)}`, row!.id);
    }

    replicas = await listActive();
    const excess = replicas.length - dep.desiredReplicas;
    if (excess > 0) {
      const victims = [...replicas].sort((a, b) => STOP_ORDER[a.status]! - STOP_ORDER[b.status]! || b.startedAt.getTime() - a.startedAt.getTime()).slice(0, excess);
      await stopReplicas(tx, victims.map((v) => v.id));
      await recordEvent(tx, dep.id, 'scale', `stopped ${excess} replica(s) (${victims.map((v) => short(v.id)).join(', ')}): scaled to ${dep.desiredReplicas}`);
    }

    for (const [replicaId, readiness] of probes) {
      const r = replicas.find((x) => x.id === replicaId);
      if (!r || r.status === 'stopped') continue;
      const next = readiness === 'ready' ? 'ready' : r.status === 'ready' ? 'unhealthy' : r.status;
      if (next !== r.status) await tx.update(deploymentReplicas).set({ status: next, updatedAt: new Date() }).where(eq(deploymentReplicas.id, r.id));
    }

    const final = await listActive();
    await setStatus(tx, dep, deriveDeploymentStatus(dep.status, dep.desiredReplicas, final));
  });
}

async function setStatus(tx: DbOrTx, dep: DeploymentRow, status: DeploymentRow['status']): Promise<void> {
  if (dep.status === status) return;
  await tx.update(deployments).set({ status, updatedAt: new Date() }).where(eq(deployments.id, dep.id));
  await recordEvent(tx, dep.id, 'status', `${dep.status} → ${status}`);
}

/**
 * A failed replica: first release what it held, then restart it on a fresh placement once its backoff
 * has passed, or give it up after too many restarts in a short time (the deployment then reads 'failed').
 */
async function handleFailure(tx: DbOrTx, dep: DeploymentRow, r: ReplicaRow, opts: ReconcileOptions, place: () => Promise<Choice>): Promise<void> {
  const stage = failureStage(r);
  if (stage === 'given-up') return;
  if (stage === 'fresh') {
    await releaseAllocations(tx, r.id);
    await tx.update(deploymentReplicas).set({ gpuIndices: null, updatedAt: new Date() }).where(eq(deploymentReplicas.id, r.id));
    await recordEvent(tx, dep.id, 'error', `replica ${short(r.id)} failed: ${r.lastError ?? 'no reason reported'}`, r.id);
    return;
  }
  const since = new Date(Date.now() - opts.giveUpWindowMs);
  const [{ recent }] = (await tx
    .select({ recent: count() })
    .from(deploymentEvents)
    .where(and(eq(deploymentEvents.replicaId, r.id), eq(deploymentEvents.kind, 'restart'), gte(deploymentEvents.at, since)))) as [{ recent: number }];
  if (recent >= opts.giveUpAfter) {
    await tx.update(deploymentReplicas).set({ nodeName: null, updatedAt: new Date() }).where(eq(deploymentReplicas.id, r.id));
    await recordEvent(tx, dep.id, 'error', `replica ${short(r.id)} given up after ${recent} restarts in ${Math.round(opts.giveUpWindowMs / 60_000)} min; last error: ${r.lastError ?? 'none reported'}`, r.id);
    return;
  }
  if (Date.now() < r.updatedAt.getTime() + restartDelayMs(recent + 1, opts.backoff)) return;
  const choice = await place();
  if (!choice.feasible) {
    await recordEventOnce(tx, dep.id, 'error', `replica ${short(r.id)} cannot restart yet: ${choice.reasons.join('; ')}`, r.id);
    return;
  }
  const now = new Date();
  await tx
    .update(deploymentReplicas)
    .set({ status: 'starting', nodeName: choice.node, gpuIndices: choice.gpus, url: '', pid: null, port: null, rendezvous: null, restarts: r.restarts + 1, startedAt: now, updatedAt: now })
    .where(eq(deploymentReplicas.id, r.id));
  await assignReplica(tx, r.id, choice);
  await placeMembers(tx, r.id, r.restarts + 1, choice);
  await recordEvent(tx, dep.id, 'restart', `replica ${short(r.id)} restart ${r.restarts + 1} on ${choice.node}${choice.gpus.length ? ` GPUs ${choice.gpus.join(',')}` : ''}${groupHosts(choice)}${claimedFrom(choice)}`, r.id);
}

async function probeUpstream(db: Db, dep: DeploymentRow, opts: ReconcileOptions): Promise<Map<string, Readiness>> {
  const rows = await db.select().from(deploymentReplicas).where(and(eq(deploymentReplicas.deploymentId, dep.id), ne(deploymentReplicas.status, 'stopped')));
  const out = new Map<string, Readiness>();
  await Promise.all(rows.map(async (r) => out.set(r.id, await opts.probe('upstream', r.url, dep.name).catch(() => 'failed' as const))));
  return out;
}

/** Every deployment id, for the sweep to enqueue. */
export async function deploymentIds(db: Db): Promise<string[]> {
  return (await db.select({ id: deployments.id }).from(deployments)).map((d) => d.id);
}
