import { and, eq, inArray, isNotNull } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { deploymentReplicas, deployments, modelVersions } from '../../db/schema';
import { replicaSecret } from '../../engines/replica-secret';
import { groupSizes, listMemberAssignments, reportMember } from './group-assignments';
import type { AdapterArtifact, Assignment, ReplicaReport } from './assignment-types';

export { assignmentArtifacts, replicaReportSchema, type AdapterArtifact, type Assignment, type AssignmentGroup, type ReplicaReport } from './assignment-types';

/**
 * The replica rows assigned to this node that are not history (stopped rows matter only while running),
 * each with its secret: a remote agent gets its own replicas' secrets this way, never the master key.
 */
export async function listAssignments(db: Db, nodeName: string, masterKey: Buffer): Promise<Assignment[]> {
  const rows = await db
    .select({
      replicaId: deploymentReplicas.id,
      deploymentId: deploymentReplicas.deploymentId,
      servedName: deployments.name,
      engine: deployments.engine,
      spec: deployments.spec,
      modelLocation: modelVersions.location,
      artifactKey: modelVersions.artifactKey,
      modelSize: modelVersions.sizeBytes,
      modelSha256: modelVersions.sha256,
      gpuIndices: deploymentReplicas.gpuIndices,
      status: deploymentReplicas.status,
      pid: deploymentReplicas.pid,
      port: deploymentReplicas.port,
      url: deploymentReplicas.url,
      logPath: deploymentReplicas.logPath,
      rendezvous: deploymentReplicas.rendezvous,
    })
    .from(deploymentReplicas)
    .innerJoin(deployments, eq(deployments.id, deploymentReplicas.deploymentId))
    .leftJoin(modelVersions, eq(modelVersions.id, deployments.modelVersionId))
    .where(eq(deploymentReplicas.nodeName, nodeName));
  // A replica with members of its current start is a group's head; its members on this node come after.
  const sizes = await groupSizes(db, rows.map((r) => r.replicaId));
  const adapters = await adapterArtifactsOf(db, rows.map((r) => r.spec));
  const replicas: Assignment[] = rows.map(({ rendezvous, artifactKey, modelSize, modelSha256, ...r }) => {
    const nodes = sizes.get(r.replicaId);
    const adapterArtifacts = adaptersOf(r.spec).flatMap((a) => {
      const artifact = adapters.get(a.path);
      return artifact ? [{ name: a.name, location: a.path, artifact }] : [];
    });
    return { ...r, ...(artifactKey ? { modelArtifact: { key: artifactKey, sizeBytes: modelSize, sha256: modelSha256 } } : {}), ...(adapterArtifacts.length ? { adapterArtifacts } : {}), gpuIndices: r.gpuIndices ?? [], secret: replicaSecret(masterKey, r.replicaId), ...(nodes ? { group: { rank: 0, nodes, rendezvous, replicaId: r.replicaId } } : {}) };
  });
  return [...replicas, ...(await listMemberAssignments(db, nodeName))];
}

const adaptersOf = (spec: Record<string, unknown>): { name: string; path: string }[] =>
  Array.isArray(spec.loraAdapters) ? (spec.loraAdapters as unknown[]).filter((a): a is { name: string; path: string } => typeof (a as { path?: unknown })?.path === 'string' && typeof (a as { name?: unknown }).name === 'string') : [];

/** The sealed copies of the adapters these specs name by path (a fine-tune's adapter is a version whose location is its directory). */
async function adapterArtifactsOf(db: Db, specs: Record<string, unknown>[]): Promise<Map<string, AdapterArtifact['artifact']>> {
  const paths = [...new Set(specs.flatMap((s) => adaptersOf(s).map((a) => a.path)))];
  if (!paths.length) return new Map();
  const found = await db
    .select({ location: modelVersions.location, key: modelVersions.artifactKey, sizeBytes: modelVersions.sizeBytes, sha256: modelVersions.sha256 })
    .from(modelVersions)
    .where(and(inArray(modelVersions.location, paths), eq(modelVersions.format, 'lora-adapter'), isNotNull(modelVersions.artifactKey)));
  return new Map(found.map((v) => [v.location, { key: v.key!, sizeBytes: v.sizeBytes, sha256: v.sha256 }]));
}

/**
 * Writes an agent's report on one replica, scoped to the agent's node: returns the replica's deployment,
 * or null for a row of another node (or none). The deployment's own status is the reconciler's to derive.
 */
export async function reportReplica(db: Db, nodeName: string, replicaId: string, report: ReplicaReport): Promise<string | null> {
  const found = await reportReplicaRow(db, nodeName, replicaId, report);
  // Not a replica of this node: maybe a group member placed here (ids are UUIDs: never both).
  return found ?? (report.rendezvous === undefined ? reportMember(db, nodeName, replicaId, report) : null);
}

async function reportReplicaRow(db: Db, nodeName: string, replicaId: string, report: ReplicaReport): Promise<string | null> {
  const patch: Partial<typeof deploymentReplicas.$inferInsert> = { ...report, updatedAt: new Date() };
  if (report.lastError) patch.lastError = report.lastError.slice(0, 2000);
  const [row] = await db
    .update(deploymentReplicas)
    .set(patch)
    .where(and(eq(deploymentReplicas.id, replicaId), eq(deploymentReplicas.nodeName, nodeName)))
    .returning({ deploymentId: deploymentReplicas.deploymentId });
  return row?.deploymentId ?? null;
}

export const ACTIVE_REPLICA_STATUSES = ['starting', 'ready', 'unhealthy'] as const;
export const isActive = (status: string) => (ACTIVE_REPLICA_STATUSES as readonly string[]).includes(status);
