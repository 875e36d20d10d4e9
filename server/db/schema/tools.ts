import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { bytea } from './chat';
import { groups } from './groups';
import { users } from './identity';

/**
 * A plugin tool (issue 16, part 7): an admin-registered HTTP endpoint the chat's model may call. The
 * parameters are a JSON schema sent to the model as an OpenAI `tools` entry; the secret signs every
 * request (HMAC-SHA256) and is sealed under the install's data key, never returned by the API.
 */
export const tools = pgTable(
  'tools',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull().unique(),
    description: text('description').notNull().default(''),
    parameters: jsonb('parameters').notNull().$type<Record<string, unknown>>(),
    endpoint: text('endpoint').notNull(),
    secretEnc: bytea('secret_enc').notNull(),
    dataKeyId: integer('data_key_id').notNull(),
    timeoutMs: integer('timeout_ms').notNull().default(10_000),
    maxResponseBytes: integer('max_response_bytes').notNull().default(65_536),
    enabled: boolean('enabled').notNull().default(true),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check(
      'tools_values_check',
      sql`${t.name} ~ '^[a-zA-Z0-9_-]{1,64}$' AND ${t.timeoutMs} BETWEEN 100 AND 120000 AND ${t.maxResponseBytes} BETWEEN 256 AND 1048576`,
    ),
  ],
);

/** Members of the group may have the model call the tool in their chats; a tool with no grant is offered to nobody. */
export const toolGrants = pgTable(
  'tool_grants',
  {
    toolId: uuid('tool_id')
      .notNull()
      .references(() => tools.id, { onDelete: 'cascade' }),
    groupId: uuid('group_id')
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.toolId, t.groupId] }), index('tool_grants_group_idx').on(t.groupId)],
);
