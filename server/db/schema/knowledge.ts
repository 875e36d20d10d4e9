import { sql } from 'drizzle-orm';
import { bigint, integer, index, pgTable, primaryKey, real, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { bytea, conversations, presets } from './chat';
import { users } from './identity';

/** A knowledge base: its owner's, shared with the groups in groupIds; documents are embedded by embeddingModel (a deployment name). */
export const knowledgeBases = pgTable(
  'knowledge_bases',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerId: uuid('owner_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    embeddingModel: text('embedding_model').notNull(),
    groupIds: uuid('group_ids').array().notNull().default([]),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('knowledge_bases_owner_idx').on(t.ownerId)],
);

export const KB_DOCUMENT_STATUSES = ['queued', 'parsing', 'embedding', 'ready', 'failed'] as const;
export type KbDocumentStatus = (typeof KB_DOCUMENT_STATUSES)[number];

/** An uploaded document. The row is the truth for its ingestion (status, progress, error); name and bytes sealed (key id ‖ sealed). */
export const kbDocuments = pgTable(
  'kb_documents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kbId: uuid('kb_id').notNull().references(() => knowledgeBases.id, { onDelete: 'cascade' }),
    nameEnc: bytea('name_enc').notNull(),
    mime: text('mime').notNull(),
    size: integer('size').notNull(),
    status: text('status', { enum: KB_DOCUMENT_STATUSES }).notNull().default('queued'),
    error: text('error'),
    progress: real('progress').notNull().default(0),
    pages: integer('pages'),
    chunkCount: integer('chunk_count').notNull().default(0),
    /** The uploaded bytes, kept so the document can be embedded again by another model. */
    sourceEnc: bytea('source_enc'),
    /** Which deployment the chunks' vectors came from; differs from the base's after a change until re-embedded. */
    embeddedModel: text('embedded_model'),
    /** A number for the document alone: its chunks' keys in the vector index are serial * 2^20 + ordinal. */
    serial: bigint('serial', { mode: 'number' }).generatedAlwaysAsIdentity().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('kb_documents_kb_idx').on(t.kbId, t.createdAt),
    uniqueIndex('kb_documents_serial_idx').on(t.serial),
    // The stalled-document sweep's: only unfinished rows, oldest change first.
    index('kb_documents_unfinished_idx').on(t.updatedAt).where(sql`${t.status} IN ('queued', 'parsing', 'embedding')`),
  ],
);

/** A passage of a document with where it came from; text ({text, heading}) and vector (float32) sealed (key id ‖ sealed). */
export const kbChunks = pgTable(
  'kb_chunks',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    documentId: uuid('document_id').notNull().references(() => kbDocuments.id, { onDelete: 'cascade' }),
    kbId: uuid('kb_id').notNull().references(() => knowledgeBases.id, { onDelete: 'cascade' }),
    ordinal: integer('ordinal').notNull(),
    page: integer('page'),
    charStart: integer('char_start').notNull(),
    charEnd: integer('char_end').notNull(),
    /** How many terms the blind index holds for it (BM25's document length). */
    termCount: integer('term_count').notNull(),
    contentEnc: bytea('content_enc').notNull(),
    vectorEnc: bytea('vector_enc'),
  },
  (t) => [uniqueIndex('kb_chunks_document_ordinal_idx').on(t.documentId, t.ordinal), index('kb_chunks_kb_idx').on(t.kbId)],
);

/** The blind full-text index: a truncated HMAC of each normalised term of a chunk, with its count. */
export const kbChunkTerms = pgTable(
  'kb_chunk_terms',
  {
    chunkId: uuid('chunk_id').notNull().references(() => kbChunks.id, { onDelete: 'cascade' }),
    kbId: uuid('kb_id').notNull(),
    term: bytea('term').notNull(),
    tf: integer('tf').notNull(),
  },
  (t) => [primaryKey({ name: 'kb_chunk_terms_pk', columns: [t.chunkId, t.term] }), index('kb_chunk_terms_kb_term_idx').on(t.kbId, t.term)],
);

/** Knowledge bases a conversation answers from. */
export const conversationKnowledge = pgTable(
  'conversation_knowledge',
  {
    conversationId: uuid('conversation_id').notNull().references(() => conversations.id, { onDelete: 'cascade' }),
    kbId: uuid('kb_id').notNull().references(() => knowledgeBases.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'conversation_knowledge_pk', columns: [t.conversationId, t.kbId] })],
);

/** Knowledge bases a preset attaches to each conversation started from it (those the starting user can read). */
export const presetKnowledge = pgTable(
  'preset_knowledge',
  {
    presetId: uuid('preset_id').notNull().references(() => presets.id, { onDelete: 'cascade' }),
    kbId: uuid('kb_id').notNull().references(() => knowledgeBases.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'preset_knowledge_pk', columns: [t.presetId, t.kbId] }), index('preset_knowledge_kb_idx').on(t.kbId)],
);
