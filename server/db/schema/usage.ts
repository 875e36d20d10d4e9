import { bigint, date, doublePrecision, index, integer, numeric, pgTable, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';

/**
 * Daily rollup of request_logs (server/operations/usage/rollup.ts): one row per UTC day, user, key, model
 * and deployment, so the usage page reads thousands of rows instead of tens of millions. Rebuilt per day
 * by the maintenance worker (finished days once, today on every run): re-running gives the same rows.
 * No foreign keys: a deleted user, key or deployment keeps its history.
 */
export const usageDaily = pgTable(
  'usage_daily',
  {
    day: date('day', { mode: 'string' }).notNull(),
    userId: uuid('user_id'),
    apiKeyId: uuid('api_key_id'),
    model: text('model').notNull(),
    deploymentId: uuid('deployment_id'),
    requests: integer('requests').notNull(),
    /** Requests answered with a status of 400 or more. */
    errors: integer('errors').notNull(),
    promptTokens: bigint('prompt_tokens', { mode: 'number' }).notNull(),
    completionTokens: bigint('completion_tokens', { mode: 'number' }).notNull(),
    /** From deployment_prices at rollup time; null where the deployment has no price. */
    cost: numeric('cost', { precision: 20, scale: 6, mode: 'number' }),
    currency: text('currency'),
    rolledUpAt: timestamp('rolled_up_at', { withTimezone: true }).notNull().defaultNow(),
    /** Summed end-to-end and first-token times (ms), and how many requests had a first token: means per day. */
    e2eMsSum: doublePrecision('e2e_ms_sum').notNull().default(0),
    ttftMsSum: doublePrecision('ttft_ms_sum').notNull().default(0),
    ttftCount: integer('ttft_count').notNull().default(0),
    /** Requests per e2e latency bucket (bounds in operations/usage/latency-buckets.ts): p50/p95 of any group of rows. */
    e2eMsBuckets: integer('e2e_ms_buckets').array().notNull().default([]),
  },
  (t) => [
    unique('usage_daily_group_unique').on(t.day, t.userId, t.apiKeyId, t.model, t.deploymentId).nullsNotDistinct(),
    index('usage_daily_user_day_idx').on(t.userId, t.day),
    index('usage_daily_day_idx').on(t.day),
  ],
);
