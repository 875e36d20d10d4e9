import { bigint, index, integer, pgTable, real, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { deploymentReplicas, deployments } from './fleet';
import { modelVersions } from './lifecycle';

/**
 * One row per start of a GPU replica: what Enclave predicted for that placement beside what the engine
 * measured while starting (its start-up log). Written once, when the replica first reports ready; the
 * planner reads the latest row of the same model version, dtype, quantization, TP and GPU type to plan
 * with measured figures instead of the estimate. Sizes are bytes per GPU; null where unknown.
 */
export const replicaStartMeasurements = pgTable(
  'replica_start_measurements',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    deploymentId: uuid('deployment_id').notNull().references(() => deployments.id, { onDelete: 'cascade' }),
    replicaId: uuid('replica_id').notNull().references(() => deploymentReplicas.id, { onDelete: 'cascade' }),
    /** The replica's startedAt: a restart in the same row is another start. */
    replicaStartedAt: timestamp('replica_started_at', { withTimezone: true }).notNull(),
    modelVersionId: uuid('model_version_id').references(() => modelVersions.id, { onDelete: 'set null' }),
    engine: text('engine').notNull(),
    /** The spec's dtype as asked ('auto' included), so that a later plan of the same spec matches it. */
    dtype: text('dtype').notNull(),
    quantization: text('quantization'),
    tp: integer('tp').notNull(),
    pp: integer('pp').notNull(),
    maxModelLen: integer('max_model_len'),
    nodeName: text('node_name'),
    /** nvidia-smi's name of the replica's GPUs, from the node inventory ('NVIDIA H100 80GB HBM3'). */
    gpuName: text('gpu_name'),
    gpuMemoryTotalMiB: integer('gpu_memory_total_mib'),
    /** What the placement claimed on each GPU (its allocation). */
    claimBytes: bigint('claim_bytes', { mode: 'number' }),
    /** Where the claim came from: 'estimate', or the measured start it reused. */
    plannedFrom: text('planned_from').notNull().default('estimate'),
    predictedWeightsBytes: bigint('predicted_weights_bytes', { mode: 'number' }),
    predictedActivationBytes: bigint('predicted_activation_bytes', { mode: 'number' }),
    predictedOverheadBytes: bigint('predicted_overhead_bytes', { mode: 'number' }),
    /** The KV cache pool the estimate leaves on one GPU (comparable with vLLM's "Available KV cache memory"). */
    predictedKvCacheBytes: bigint('predicted_kv_cache_bytes', { mode: 'number' }),
    predictedMaxConcurrency: real('predicted_max_concurrency'),
    measuredWeightsBytes: bigint('measured_weights_bytes', { mode: 'number' }),
    measuredNonTorchBytes: bigint('measured_non_torch_bytes', { mode: 'number' }),
    measuredActivationBytes: bigint('measured_activation_bytes', { mode: 'number' }),
    measuredCudaGraphBytes: bigint('measured_cuda_graph_bytes', { mode: 'number' }),
    measuredKvCacheBytes: bigint('measured_kv_cache_bytes', { mode: 'number' }),
    measuredKvCacheTokens: bigint('measured_kv_cache_tokens', { mode: 'number' }),
    measuredGpuBlocks: integer('measured_gpu_blocks'),
    measuredMaxConcurrency: real('measured_max_concurrency'),
    /** 'v0' | 'v1' wording and the version the log named, when it did. */
    logWording: text('log_wording'),
    engineVersion: text('engine_version'),
    measuredAt: timestamp('measured_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique('replica_start_measurements_start_uq').on(t.replicaId, t.replicaStartedAt),
    index('replica_start_measurements_match_idx').on(t.modelVersionId, t.tp, t.gpuName, t.measuredAt),
    index('replica_start_measurements_deployment_idx').on(t.deploymentId, t.measuredAt),
  ],
);
