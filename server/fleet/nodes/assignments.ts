import { and, desc, eq, ne } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../../db/client';
import { deploymentReplicas, deployments, modelVersions, REPLICA_STATUSES, type EngineName } from '../../db/schema';
import { replicaSecret } from '../../engines/replica-secret';
import { groupSizes, listMemberAssignments, reportMember } from './group-assignments';

/** A replica the reconciler placed on a node, with what the agent needs to run it. */
export interface Assignment {
  replicaId: string;
  deploymentId: string;
  servedName: string;
  engine: EngineName;
  spec: Record<string, unknown>;
  /** The model version's location (GGUF file, checkpoint directory); null for upstream. */
  modelLocation: string | null;
  gpuIndices: number[];
  status: (typeof REPLICA_STATUSES)[number];
  pid: number | null;
  port: number | null;
  url: string;
  logPath: string | null;
  /** The replica's secret (engines/replica-secret.ts): what its engine requires, and all an agent needs of the master key. Empty for a group's worker. */
  secret: string;
  /** Set when the replica spans several hosts (vLLM pipeline parallel): this host's rank in it. */
  group?: AssignmentGroup;
}

/**
 * A multi-node replica as one host sees it. Rank 0 is the head: the replica row itself, its API and its
 * secret. Ranks 1.. are members: the assignment's replicaId is then the member row's id.
 */
export interface AssignmentGroup {
  rank: number;
  nodes: number;
  /** Where members join the head ('mp://host:port' or 'ray://host:port'); null until the head listens. */
  rendezvous: string | null;
  /** The replica (group) this host's process belongs to. */
  replicaId: string;
}

/** What an agent may change on a replica row of its own node; nothing else (not its node, not its GPUs). */
export const replicaReportSchema = z
  .object({
    status: z.enum(['starting', 'ready', 'unhealthy', 'failed', 'stopped']),
    pid: z.number().int().positive().nullable(),
    port: z.number().int().min(1).max(65535).nullable(),
    url: z.string().max(500),
    logPath: z.string().max(1000).nullable(),
    lastError: z.string().max(4000).nullable(),
    /** A group head's meeting point for its members (parsed again where it is used). */
    rendezvous: z.string().regex(/^(mp|ray):\/\/\S{1,300}$/).nullable(),
  })
  .partial()
  .strict();
export type ReplicaReport = z.infer<typeof replicaReportSchema>;

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
  const replicas: Assignment[] = rows.map(({ rendezvous, ...r }) => {
    const nodes = sizes.get(r.replicaId);
    return { ...r, gpuIndices: r.gpuIndices ?? [], secret: replicaSecret(masterKey, r.replicaId), ...(nodes ? { group: { rank: 0, nodes, rendezvous, replicaId: r.replicaId } } : {}) };
  });
  return [...replicas, ...(await listMemberAssignments(db, nodeName))];
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
