import { index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { modelVersions } from './lifecycle';

export const ENGINES = ['llamacpp', 'vllm', 'upstream'] as const;
export type EngineName = (typeof ENGINES)[number];
export const DEPLOYMENT_STATUSES = ['pending', 'starting', 'ready', 'degraded', 'failed', 'stopped'] as const;
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
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('deployment_replicas_deployment_idx').on(t.deploymentId)],
);
