import { z } from 'zod';
import type { ModelArtifact } from '../../artifacts';
import type { EngineName, REPLICA_STATUSES } from '../../db/schema';

/** A replica the reconciler placed on a node, with what the agent needs to run it. */
export interface Assignment {
  replicaId: string;
  deploymentId: string;
  servedName: string;
  engine: EngineName;
  spec: Record<string, unknown>;
  /** The model version's location (GGUF file, checkpoint directory); null for upstream. */
  modelLocation: string | null;
  /** The version's sealed copy in the artifact store, for a host without the file (fleet/model-cache.ts). */
  modelArtifact?: ModelArtifact;
  /**
   * The spec's LoRA adapters that are registered versions with a copy in the artifact store (a fine-tune's
   * adapter), by the adapter's name: a host without the directory at `location` fetches it the same way.
   */
  adapterArtifacts?: AdapterArtifact[];
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

export interface AdapterArtifact {
  name: string;
  location: string;
  artifact: ModelArtifact;
}

/** Every artifact an assignment may read: its model's and its adapters' (what the control plane hands a joined agent). */
export const assignmentArtifacts = (a: Pick<Assignment, 'modelArtifact' | 'adapterArtifacts'>): ModelArtifact[] => [
  ...(a.modelArtifact ? [a.modelArtifact] : []),
  ...(a.adapterArtifacts ?? []).map((x) => x.artifact),
];

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
