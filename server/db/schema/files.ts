import { index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { ATTACHMENT_TYPES, bytea, dataKeys } from './chat';
import { apiKeys, users } from './identity';

/**
 * Images uploaded through /v1/files (migration 0036), referred to in chat requests as image_url
 * "enclave-file:<id>". Owned by the uploading key's user; the bytes and the file name sealed under the
 * owner's data key (data_key_id), the rest in clear.
 */
export const apiFiles = pgTable(
  'api_files',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    apiKeyId: uuid('api_key_id').references(() => apiKeys.id, { onDelete: 'set null' }),
    purpose: text('purpose', { enum: ['vision'] }).notNull(),
    mediaType: text('media_type', { enum: ATTACHMENT_TYPES }).notNull(),
    bytes: integer('bytes').notNull(),
    width: integer('width'),
    height: integer('height'),
    filenameEnc: bytea('filename_enc'),
    contentEnc: bytea('content_enc').notNull(),
    dataKeyId: integer('data_key_id').notNull().references(() => dataKeys.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('api_files_user_idx').on(t.userId, t.createdAt)],
);
