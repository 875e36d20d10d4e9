import { bigint, bigserial, boolean, index, integer, jsonb, pgTable, real, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { modelVersions } from './lifecycle';

export const ENGINES = ['llamacpp', 'vllm', 'tgi', 'sglang', 'upstream'] as const;
export type EngineName = (typeof ENGINES)[number];
/** Engines that run on GPUs: placed by the planner with tensor parallelism and sized by the memory estimator. */
export const GPU_ENGINES = ['vllm', 'tgi', 'sglang'] as const satisfies readonly EngineName[];
export const isGpuEngine = (engine: string): engine is (typeof GPU_ENGINES)[number] => (GPU_ENGINES as readonly string[]).includes(engine);
export const DEPLOYMENT_STATUSES = ['pending', 'starting', 'ready', 'degraded', 'failed', 'stopped'] as const;
export const CACHE_MODES = ['off', 'deterministic', 'all'] as const;
export type CacheMode = (typeof CACHE_MODES)[number];
export const REPLICA_STATUSES = ['starting', 'ready', 'unhealthy', 'failed', 'stopped'] as const;

export const deployments = pgTable('deployments', {
  id: uuid('id').primaryKey().defaultRandom(),
  /** The name clients pass as `model`. */
  name: text('name').notNull().unique(),
  modelVersionId: uuid('model_version_id').references(() => modelVersions.id),
  engine: text('engine', { enum: ENGINES }).notNull(),
  /** Engine settings (context, sequences, threads; TP and dtype for vLLM; url for upstream). */
  spec: jsonb('spec').$type<Record<string, unknown>>().notNull().default({}),
  /** Roles whose users may use this model; null means every role. API keys can narrow it further. */
  allowedRoles: text('allowed_roles').array(),
  desiredReplicas: integer('desired_replicas').notNull().default(1),
  status: text('status', { enum: DEPLOYMENT_STATUSES }).notNull().default('pending'),
  // The gateway's handling of this deployment's requests (server/gateway/deployment-settings.ts).
  /** Response cache: 'deterministic' (temperature 0 or a seed), 'all' (opted in), or 'off'. */
  cacheMode: text('cache_mode', { enum: CACHE_MODES }).notNull().default('deterministic'),
  cacheTtlSeconds: integer('cache_ttl_seconds').notNull().default(3600),
  /** null: GATEWAY_FIRST_TOKEN_TIMEOUT_MS / GATEWAY_REQUEST_TIMEOUT_MS. */
  firstTokenTimeoutMs: integer('first_token_timeout_ms'),
  requestTimeoutMs: integer('request_timeout_ms'),
  /** Retries on other replicas per request; null: every replica once. */
  maxRetries: integer('max_retries'),
  /** Retries at most this fraction of the deployment's recent requests (Envoy's retry budget); null: no such cap. */
  retryBudgetRatio: real('retry_budget_ratio'),
  /** Deployments tried in order when every replica of this one failed before the answer began. */
  fallbackDeploymentIds: uuid('fallback_deployment_ids').array().notNull().default([]),
  /** A longer-context deployment for prompts that do not fit this one's context. */
  contextFallbackDeploymentId: uuid('context_fallback_deployment_id'),
  /** Takes images in chat messages (a multimodal model); without it the gateway refuses them (migration 0031). */
  vision: boolean('vision').notNull().default(false),
  /** Serves /v1/audio/transcriptions and /v1/audio/speech (a Whisper-style or speech model). */
  audio: boolean('audio').notNull().default(false),
  /** Receives the chat's plugins as OpenAI `tools` (a model that can call functions; migration 0030). */
  tools: boolean('tools').notNull().default(false),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export const deploymentReplicas = pgTable(
  'deployment_replicas',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    deploymentId: uuid('deployment_id').notNull().references(() => deployments.id, { onDelete: 'cascade' }),
    nodeName: text('node_name'),
    gpuIndices: integer('gpu_indices').array(),
    /** Base URL of the engine's OpenAI-compatible server, e.g. http://127.0.0.1:41234 */
    url: text('url').notNull(),
    port: integer('port'),
    pid: integer('pid'),
    status: text('status', { enum: REPLICA_STATUSES }).notNull().default('starting'),
    lastError: text('last_error'),
    restarts: integer('restarts').notNull().default(0),
    /** Where the engine's output goes, so a restarted agent can adopt the process and keep its log. */
    logPath: text('log_path'),
    /** A multi-node replica's meeting point ('mp://host:port' or 'ray://host:port'), set by its head's agent (replica-groups.ts). */
    rendezvous: text('rendezvous'),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('deployment_replicas_deployment_idx').on(t.deploymentId)],
);

export const NODE_STATUSES = ['healthy', 'unhealthy', 'draining'] as const;

/** A GPU host running the agent role. */
/** A node's host as its agent reports it with each heartbeat (validated by fleet/host/host-stats.ts). */
export interface NodeHost {
  cpuCores: number;
  cpuModel: string | null;
  load1: number;
  memoryTotalBytes: number;
  memoryAvailableBytes: number;
  diskPath: string;
  diskTotalBytes: number | null;
  diskFreeBytes: number | null;
}

export const gpuNodes = pgTable('gpu_nodes', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  /** Where the agent answers (its control URL), null for the local agent of `enclave start`. */
  address: text('address'),
  labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
  driverVersion: text('driver_version'),
  cudaVersion: text('cuda_version'),
  /** Parsed `nvidia-smi topo -m`: { devices, links, numaNode }. */
  topology: jsonb('topology').$type<Record<string, unknown> | null>(),
  status: text('status', { enum: NODE_STATUSES }).notNull().default('healthy'),
  lastHeartbeatAt: timestamp('last_heartbeat_at', { withTimezone: true }),
  /** The host's CPU, memory and disk from the latest heartbeat that carried them (fleet/host/host-stats.ts; migration 0032). */
  host: jsonb('host').$type<NodeHost | null>(),
  hostAt: timestamp('host_at', { withTimezone: true }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const gpus = pgTable(
  'gpus',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    nodeId: uuid('node_id').notNull().references(() => gpuNodes.id, { onDelete: 'cascade' }),
    index: integer('index').notNull(),
    uuid: text('uuid'),
    name: text('name').notNull(),
    memoryTotalMiB: integer('memory_total_mib'),
    /** A MIG device: its parent GPU's uuid. */
    migParentUuid: text('mig_parent_uuid'),
    numaNode: integer('numa_node'),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [unique('gpus_node_index_uq').on(t.nodeId, t.index)],
);

/** GPU telemetry, downsampled by the writer (one row per GPU per bucket). */
export const gpuSamples = pgTable(
  'gpu_samples',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    nodeId: uuid('node_id').notNull().references(() => gpuNodes.id, { onDelete: 'cascade' }),
    gpuIndex: integer('gpu_index').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull(),
    utilizationPct: real('utilization_pct'),
    memoryUsedMiB: integer('memory_used_mib'),
    memoryTotalMiB: integer('memory_total_mib'),
    temperatureC: real('temperature_c'),
    powerW: real('power_w'),
  },
  (t) => [unique('gpu_samples_bucket_uq').on(t.nodeId, t.gpuIndex, t.at), index('gpu_samples_node_at_idx').on(t.nodeId, t.at)],
);

/** Which replica or job holds which GPU, and how much of its memory it claimed. Released, never deleted. */
export const allocations = pgTable(
  'allocations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    nodeId: uuid('node_id').notNull().references(() => gpuNodes.id, { onDelete: 'cascade' }),
    gpuIndex: integer('gpu_index').notNull(),
    holderKind: text('holder_kind', { enum: ['replica', 'job'] }).notNull(),
    holderId: uuid('holder_id').notNull(),
    memoryBytes: bigint('memory_bytes', { mode: 'number' }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    releasedAt: timestamp('released_at', { withTimezone: true }),
  },
  (t) => [index('allocations_active_idx').on(t.nodeId, t.gpuIndex, t.releasedAt), index('allocations_holder_idx').on(t.holderKind, t.holderId)],
);

/** A deployment's history: status changes, restarts and failure explanations, shown on its page. */
export const deploymentEvents = pgTable(
  'deployment_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    deploymentId: uuid('deployment_id').notNull().references(() => deployments.id, { onDelete: 'cascade' }),
    replicaId: uuid('replica_id'),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    kind: text('kind', { enum: ['status', 'restart', 'error', 'scale', 'info'] }).notNull(),
    message: text('message').notNull(),
  },
  (t) => [index('deployment_events_deployment_idx').on(t.deploymentId, t.at)],
);

/** One-time tokens with which a remote agent joins the fleet (stored hashed). */
export const joinTokens = pgTable('join_tokens', {
  id: uuid('id').primaryKey().defaultRandom(),
  tokenHash: text('token_hash').notNull().unique(),
  createdBy: uuid('created_by'),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  usedAt: timestamp('used_at', { withTimezone: true }),
  usedByNodeId: uuid('used_by_node_id'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});
