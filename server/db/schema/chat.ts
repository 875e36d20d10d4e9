import { type AnyPgColumn, customType, index, integer, jsonb, pgTable, real, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import type { AuditEntry } from './compliance';
import { users } from './identity';

export const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/** Data keys for message encryption, each wrapped (AES-256-GCM) by the master key. */
export const dataKeys = pgTable('data_keys', {
  id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
  wrappedKey: bytea('wrapped_key').notNull(),
  /** Fingerprint of the master key that wrapped it: tells rotation which keys remain. */
  masterFingerprint: text('master_fingerprint').notNull(),
  /** Whose content it seals (crypto-shredding: erasing the person destroys it); null for install content. */
  ownerUserId: uuid('owner_user_id').references((): AnyPgColumn => users.id),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const conversations = pgTable(
  'conversations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    /** The title is user content too: encrypted like messages. */
    titleEnc: bytea('title_enc').notNull(),
    model: text('model'),
    /** PII classification tags (e.g. ['email','phone']). */
    classification: text('classification').array().notNull().default([]),
    /** What is sent when the history outgrows the model's context (server/chat/context): see migration 0027. */
    contextPolicy: text('context_policy', { enum: ['summarize', 'trim', 'turns'] }).notNull().default('summarize'),
    /** With 'turns': how many of the latest user turns (and their replies) are sent. */
    contextTurns: integer('context_turns'),
    /** Sent first on every turn; sealed like the title (key id ‖ sealed text). Null: none. */
    systemPromptEnc: bytea('system_prompt_enc'),
    /** Nucleus sampling for every turn (from a preset); null: the engine's default. */
    topP: real('top_p'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('conversations_user_updated_idx').on(t.userId, t.updatedAt)],
);

export const messages = pgTable(
  'messages',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    conversationId: uuid('conversation_id').notNull().references(() => conversations.id, { onDelete: 'cascade' }),
    /** The message this one answers or follows; siblings with one parent are branches (edit, regenerate). */
    parentId: uuid('parent_id').references((): AnyPgColumn => messages.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['system', 'user', 'assistant'] }).notNull(),
    contentEnc: bytea('content_enc').notNull(),
    dataKeyId: integer('data_key_id').notNull().references(() => dataKeys.id),
    model: text('model'),
    /** Tokens, timings, finish reason: never content. */
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('messages_conversation_idx').on(t.conversationId, t.createdAt)],
);

export const ATTACHMENT_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;

/** An image attached to a message (migration 0031): sealed under the owner's data key like the text. */
export const messageAttachments = pgTable(
  'message_attachments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    messageId: uuid('message_id').notNull().references(() => messages.id, { onDelete: 'cascade' }),
    /** Its place among the message's images, from 0. */
    position: integer('position').notNull(),
    mediaType: text('media_type', { enum: ATTACHMENT_TYPES }).notNull(),
    bytes: integer('bytes').notNull(),
    width: integer('width'),
    height: integer('height'),
    contentEnc: bytea('content_enc').notNull(),
    dataKeyId: integer('data_key_id').notNull().references(() => dataKeys.id),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('message_attachments_message_idx').on(t.messageId, t.position)],
);

/**
 * A way to start a chat: system prompt, model, sampling and context policy. Its owner's, and shared with
 * the groups in groupIds; the system prompt sealed under the owner's key (key id ‖ sealed text).
 */
export const presets = pgTable(
  'presets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerId: uuid('owner_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    systemPromptEnc: bytea('system_prompt_enc').notNull(),
    model: text('model'),
    temperature: real('temperature'),
    topP: real('top_p'),
    maxTokens: integer('max_tokens'),
    contextPolicy: text('context_policy', { enum: ['summarize', 'trim', 'turns'] }).notNull().default('summarize'),
    contextTurns: integer('context_turns'),
    groupIds: uuid('group_ids').array().notNull().default([]),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('presets_owner_idx').on(t.ownerId)],
);

/**
 * The model's own summary of a branch's older turns, up to and including `throughMessageId`; sent in
 * their place once they no longer fit the context. Sealed under the owner's data key like messages.
 */
export const conversationSummaries = pgTable(
  'conversation_summaries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    conversationId: uuid('conversation_id').notNull().references(() => conversations.id, { onDelete: 'cascade' }),
    throughMessageId: uuid('through_message_id').notNull().references(() => messages.id, { onDelete: 'cascade' }),
    /** How many messages it stands for. */
    covered: integer('covered').notNull(),
    contentEnc: bytea('content_enc').notNull(),
    dataKeyId: integer('data_key_id').notNull().references(() => dataKeys.id),
    model: text('model'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('conversation_summaries_conversation_idx').on(t.conversationId, t.createdAt)],
);

/**
 * A streamed call (a chat turn, an arena round) while its replies are being written: a lease the
 * writing process renews, the replies it writes, and the audit row it would leave if it died. The
 * worker's sweep ends leases nobody renewed (process killed, machine gone): their replies are marked
 * interrupted and the audit row is written. Whoever deletes the row writes the audit row, so it is
 * written once, whether the writer or the sweep gets there first.
 */
export const replyStreams = pgTable(
  'reply_streams',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** The assistant messages being streamed (they may not exist yet, or be gone with their conversation). */
    messageIds: uuid('message_ids').array().notNull(),
    /** Database time; renewed by the writer, so clocks of other machines do not matter. */
    leaseUntil: timestamp('lease_until', { withTimezone: true }).notNull(),
    /** The audit row for an interrupted call: actor, action, target, address, detail (never content). */
    audit: jsonb('audit').$type<AuditEntry>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('reply_streams_lease_idx').on(t.leaseUntil)],
);
