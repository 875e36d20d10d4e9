import { index, integer, jsonb, pgTable, primaryKey, real, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { deployments } from './fleet';
import { users } from './identity';

export const LOAD_TEST_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;

/** A load-test run: its spec, live progress and the summary computed from its samples. */
export const loadTests = pgTable(
  'load_tests',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerId: uuid('owner_id').notNull().references(() => users.id),
    name: text('name').notNull(),
    status: text('status', { enum: LOAD_TEST_STATUSES }).notNull().default('queued'),
    /** The deployment driven, when the target is one (directly or through the gateway). */
    deploymentId: uuid('deployment_id').references(() => deployments.id, { onDelete: 'set null' }),
    /** Base URL of the OpenAI-compatible target. */
    targetUrl: text('target_url').notNull(),
    model: text('model').notNull(),
    /** Mode, rate/concurrency, workload, objectives (zod-validated in server/evaluation/loadtest). */
    spec: jsonb('spec').$type<Record<string, unknown>>().notNull(),
    progress: jsonb('progress').$type<Record<string, unknown>>().notNull().default({}),
    summary: jsonb('summary').$type<Record<string, unknown>>(),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [index('load_tests_owner_idx').on(t.ownerId, t.createdAt)],
);

/** One row per measured request (warm-up requests are not stored). Never prompt or output text. */
export const loadTestSamples = pgTable(
  'load_test_samples',
  {
    loadTestId: uuid('load_test_id').notNull().references(() => loadTests.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    /** Sweep stage (0 for single-stage runs). */
    stage: integer('stage').notNull().default(0),
    /** When the request was sent, ms after the run started. */
    startMs: real('start_ms').notNull(),
    ttftMs: real('ttft_ms'),
    e2eMs: real('e2e_ms'),
    tpotMs: real('tpot_ms'),
    /** Every gap between chunks, ms. */
    itlMs: real('itl_ms').array(),
    inputTokens: integer('input_tokens'),
    outputTokens: integer('output_tokens'),
    error: text('error'),
  },
  (t) => [primaryKey({ columns: [t.loadTestId, t.seq] })],
);
