import { bigserial, index, integer, pgTable, primaryKey, real, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * One row per gateway request. Partitioned by day in SQL (see the migration): Drizzle cannot declare
 * partitioning, so the table is declared here for queries and the partitions are managed by
 * server/db/partitions.ts.
 */
export const requestLogs = pgTable(
  'request_logs',
  {
    id: bigserial('id', { mode: 'number' }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    apiKeyId: uuid('api_key_id'),
    userId: uuid('user_id'),
    model: text('model').notNull(),
    deploymentId: uuid('deployment_id'),
    replicaId: uuid('replica_id'),
    status: integer('status').notNull(),
    errorType: text('error_type'),
    stream: integer('stream').notNull().default(0),
    promptTokens: integer('prompt_tokens'),
    completionTokens: integer('completion_tokens'),
    ttftMs: real('ttft_ms'),
    e2eMs: real('e2e_ms').notNull(),
    overheadMs: real('overhead_ms').notNull(),
    retries: integer('retries').notNull().default(0),
    /** Set when the model name resolved to an A/B experiment. */
    experimentId: uuid('experiment_id'),
    variantId: uuid('variant_id'),
    /** Mean gap between streamed chunks after the first: (e2e - ttft) / (chunks - 1). */
    tpotMs: real('tpot_ms'),
    /** Every gap between streamed chunks (ms), for ITL histograms. */
    itlMs: real('itl_ms').array(),
    clientAddress: text('client_address'),
    /** 'hit' (answered from the response cache), 'miss' (looked up, answered live), null (not cacheable). */
    cache: text('cache'),
    /** Set when a fallback answered: the deployment asked for (deployment_id answered), and why. */
    fallbackFromId: uuid('fallback_from_id'),
    fallbackReason: text('fallback_reason'),
  },
  (t) => [primaryKey({ columns: [t.id, t.createdAt] }), index('request_logs_model_created_idx').on(t.model, t.createdAt)],
);
