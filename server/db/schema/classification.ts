import { sql } from 'drizzle-orm';
import { boolean, check, jsonb, pgTable, primaryKey, smallint, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { deployments } from './fleet';
import { users } from './identity';

/**
 * Data classification (issue 13, parts 1 and 2). Levels are ranks 0..3, named by
 * ENCLAVE_CLASSIFICATION_LEVELS (public, internal, confidential, restricted by default); names live in
 * configuration so a rename never rewrites rows. A knowledge base is a subject too (migration 0035): what its
 * owner declared, raised by what ingestion finds in its documents.
 */
export const CLASSIFICATION_SUBJECT_KINDS = ['conversation', 'dataset', 'api_key', 'knowledge_base'] as const;
export type ClassificationSubjectKind = (typeof CLASSIFICATION_SUBJECT_KINDS)[number];
export const CLASSIFICATION_SETTERS = ['user', 'detector', 'admin'] as const;
export type ClassificationSetter = (typeof CLASSIFICATION_SETTERS)[number];
export const REDACTION_MODES = ['block', 'mask', 'allow'] as const;
export type RedactionMode = (typeof REDACTION_MODES)[number];

/**
 * A subject's level. No row: ENCLAVE_DEFAULT_CLASSIFICATION. `level` only rises by itself (the detector);
 * `declared_level` is what a person set (null: nobody did), kept apart so routing can hold a request to
 * what its owner declared while judging its content by what it holds now. `findings`: finding type →
 * cumulative count, never a value.
 */
export const dataClassifications = pgTable(
  'data_classifications',
  {
    subjectKind: text('subject_kind').notNull().$type<ClassificationSubjectKind>(),
    subjectId: uuid('subject_id').notNull(),
    level: smallint('level').notNull(),
    setBy: text('set_by').notNull().$type<ClassificationSetter>(),
    declaredLevel: smallint('declared_level'),
    findings: jsonb('findings').notNull().$type<Record<string, number>>().default({}),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.subjectKind, t.subjectId] }),
    check('data_classifications_kind', sql`${t.subjectKind} IN ('conversation', 'dataset', 'api_key', 'knowledge_base')`),
    check('data_classifications_level', sql`${t.level} BETWEEN 0 AND 3`),
    check('data_classifications_declared_level', sql`${t.declaredLevel} IS NULL OR ${t.declaredLevel} BETWEEN 0 AND 3`),
    check('data_classifications_set_by', sql`${t.setBy} IN ('user', 'detector', 'admin')`),
  ],
);

/** Organisation-defined detector rules: a regex or a keyword list (one per line); findings are `custom:<name>`. */
export const piiRules = pgTable(
  'pii_rules',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull().unique(),
    kind: text('kind').notNull().$type<'regex' | 'keywords'>(),
    pattern: text('pattern').notNull(),
    /** The least level a text holding a match is raised to. */
    level: smallint('level').notNull(),
    enabled: boolean('enabled').notNull().default(true),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check('pii_rules_kind', sql`${t.kind} IN ('regex', 'keywords')`),
    check('pii_rules_level', sql`${t.level} BETWEEN 0 AND 3`),
    check('pii_rules_pattern_length', sql`length(${t.pattern}) BETWEEN 1 AND 60000`),
  ],
);

/** Admin overrides of the built-in finding type → least level mapping (no row: the default in classification/levels.ts). */
export const findingLevels = pgTable(
  'finding_levels',
  {
    findingType: text('finding_type').primaryKey(),
    level: smallint('level').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check('finding_levels_level', sql`${t.level} BETWEEN 0 AND 3`)],
);

/** The highest level a deployment may receive and what happens to a request above it. No row: the default for its engine. */
export const deploymentDataPolicies = pgTable(
  'deployment_data_policies',
  {
    deploymentId: uuid('deployment_id')
      .primaryKey()
      .references(() => deployments.id, { onDelete: 'cascade' }),
    maxLevel: smallint('max_level').notNull(),
    mode: text('mode').notNull().$type<RedactionMode>(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check('deployment_data_policies_level', sql`${t.maxLevel} BETWEEN 0 AND 3`),
    check('deployment_data_policies_mode', sql`${t.mode} IN ('block', 'mask', 'allow')`),
  ],
);
