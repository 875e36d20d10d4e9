import { type AnyPgColumn, bigint, index, jsonb, pgTable, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';

export const MODEL_FORMATS = ['hf', 'gguf', 'lora-adapter'] as const;
/** candidate: produced by a job and not yet promoted (a quantized version waits on its quality gate). */
export const VERSION_STAGES = ['candidate', 'promoted'] as const;

export const models = pgTable('models', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  description: text('description').notNull().default(''),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const modelVersions = pgTable(
  'model_versions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    modelId: uuid('model_id').notNull().references(() => models.id, { onDelete: 'cascade' }),
    version: text('version').notNull(),
    format: text('format', { enum: MODEL_FORMATS }).notNull(),
    dtype: text('dtype'),
    quantization: text('quantization'),
    location: text('location').notNull(),
    sha256: text('sha256'),
    sizeBytes: bigint('size_bytes', { mode: 'number' }),
    /** The version's sealed copy in the artifact store (a job's output), which an agent without the file fetches; null: the file at `location` only. */
    artifactKey: text('artifact_key'),
    /** What the estimator reads (config.json, a GGUF header), kept for a version whose files are in the artifact store: planning needs no local copy. */
    config: jsonb('config'),
    parentVersionId: uuid('parent_version_id').references((): AnyPgColumn => modelVersions.id),
    producedByJobId: uuid('produced_by_job_id'),
    stage: text('stage', { enum: VERSION_STAGES }).notNull().default('promoted'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [unique('model_versions_model_version_uq').on(t.modelId, t.version), index('model_versions_parent_idx').on(t.parentVersionId)],
);
