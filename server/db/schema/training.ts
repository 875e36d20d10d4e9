import { bigint, bigserial, index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { dataKeys } from './chat';
import { users } from './identity';
import { modelVersions } from './lifecycle';

export const DATASET_FORMATS = ['openai', 'alpaca', 'sharegpt'] as const;

/** An uploaded training set: the file lives under the data directory, sealed like messages. */
export const datasets = pgTable(
  'datasets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerId: uuid('owner_id').notNull().references(() => users.id),
    name: text('name').notNull(),
    format: text('format', { enum: DATASET_FORMATS }).notNull(),
    /** Path of the sealed file, relative to the data directory. */
    storagePath: text('storage_path').notNull(),
    /** sha256 of the plaintext upload. */
    sha256: text('sha256').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
    dataKeyId: integer('data_key_id').notNull().references(() => dataKeys.id),
    rows: integer('rows').notNull(),
    /** Token and length statistics, and which tokenizer counted them. */
    stats: jsonb('stats').$type<Record<string, unknown>>().notNull().default({}),
    /** The recorded train / held-out split: { seed, heldOutFraction, trainRows, heldOutRows }. */
    split: jsonb('split').$type<Record<string, unknown>>().notNull().default({}),
    /** The model version whose tokenizer counted the tokens, when one was given. */
    tokenizerVersionId: uuid('tokenizer_version_id').references(() => modelVersions.id),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('datasets_owner_idx').on(t.ownerId, t.createdAt)],
);

export const JOB_KINDS = ['finetune', 'quantize'] as const;
export type JobKind = (typeof JOB_KINDS)[number];
/** waiting: accepted but no GPU can take it yet (the reason is in waiting_reason). */
export const JOB_STATUSES = ['queued', 'waiting', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** A job's last step event as the runner keeps it (trainers report some fields, the GGUF quantizer its stage). */
export type JobProgress = {
  step?: number;
  totalSteps?: number;
  epoch?: number | null;
  tokensPerSecond?: number | null;
  stage?: string | null;
  loss?: number | null;
  learningRate?: number | null;
  etaSeconds?: number | null;
} & Record<string, unknown>;
export const GATE_STATUSES = ['passed', 'blocked', 'overridden'] as const;

/**
 * Fine-tune and quantization jobs in one table (DESIGN.md named two): both share status, progress,
 * placement, logs, cancel and resume, and the jobs page lists them together. The kind-specific part
 * is the spec and the result, both JSON validated by zod in server/lifecycle.
 */
export const jobs = pgTable(
  'jobs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: text('kind', { enum: JOB_KINDS }).notNull(),
    name: text('name').notNull(),
    ownerId: uuid('owner_id').notNull().references(() => users.id),
    status: text('status', { enum: JOB_STATUSES }).notNull().default('queued'),
    spec: jsonb('spec').$type<Record<string, unknown>>().notNull(),
    baseVersionId: uuid('base_version_id').references(() => modelVersions.id),
    datasetId: uuid('dataset_id').references(() => datasets.id),
    waitingReason: text('waiting_reason'),
    /** Estimated GPU memory per GPU, bytes. */
    memoryBytes: bigint('memory_bytes', { mode: 'number' }),
    nodeName: text('node_name'),
    gpuIndices: integer('gpu_indices').array(),
    pid: integer('pid'),
    /** { step, totalSteps, epoch, tokensPerSecond, stage, loss, learningRate } from the last step event. */
    progress: jsonb('progress').$type<JobProgress>().notNull().default({}),
    /** The last lines the process printed (never dataset content: trainers print figures). */
    logTail: text('log_tail').array().notNull().default([]),
    logPath: text('log_path'),
    lastCheckpoint: text('last_checkpoint'),
    attempts: integer('attempts').notNull().default(0),
    error: text('error'),
    /** Kind-specific figures: sizes, seconds, perplexity before/after, adapter path. */
    result: jsonb('result').$type<Record<string, unknown>>().notNull().default({}),
    outputVersionId: uuid('output_version_id').references(() => modelVersions.id),
    gateStatus: text('gate_status', { enum: GATE_STATUSES }),
    gateOverrideReason: text('gate_override_reason'),
    gateOverriddenBy: uuid('gate_overridden_by'),
    cancelRequestedAt: timestamp('cancel_requested_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('jobs_owner_idx').on(t.ownerId, t.createdAt), index('jobs_status_idx').on(t.status)],
);

/** Step and eval events of a job, for the loss and learning-rate charts. */
export const jobMetrics = pgTable(
  'job_metrics',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    jobId: uuid('job_id').notNull().references(() => jobs.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: ['step', 'eval'] }).notNull(),
    step: integer('step').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    values: jsonb('values').$type<Record<string, number | null>>().notNull(),
  },
  (t) => [index('job_metrics_job_idx').on(t.jobId, t.kind, t.step)],
);
