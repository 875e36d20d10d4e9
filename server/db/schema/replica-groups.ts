import { index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { deploymentReplicas } from './fleet';

/** A member's life: placed ('starting', pid null until its agent runs it), then 'failed' or 'stopped' for good. */
export const MEMBER_STATUSES = ['starting', 'failed', 'stopped'] as const;

/**
 * The ranks 1..N-1 of a multi-node replica (vLLM across hosts): the processes on the other hosts. The
 * replica row is the group and its head (rank 0); a member row lives for one start of it (`generation`).
 */
export const replicaMembers = pgTable(
  'replica_members',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    replicaId: uuid('replica_id').notNull().references(() => deploymentReplicas.id, { onDelete: 'cascade' }),
    /** The replica's `restarts` when this member was placed. */
    generation: integer('generation').notNull(),
    rank: integer('rank').notNull(),
    nodeName: text('node_name').notNull(),
    gpuIndices: integer('gpu_indices').array().notNull(),
    status: text('status', { enum: MEMBER_STATUSES }).notNull().default('starting'),
    pid: integer('pid'),
    logPath: text('log_path'),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('replica_members_generation_rank_idx').on(t.replicaId, t.generation, t.rank),
    index('replica_members_node_idx').on(t.nodeName).where(sql`${t.status} <> 'stopped'`),
  ],
);
