import { sql } from 'drizzle-orm';
import { check, index, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from './identity';
import { deployments } from './fleet';

/**
 * Where a membership comes from. 'local': an admin added it. 'ldap' / 'oidc': the directory or the
 * identity provider said so at the last sign-in or sync (through a group link), and the next one may take
 * it away. Each source owns its own rows, so a sync never removes what an admin added by hand.
 */
export const GROUP_SOURCES = ['local', 'ldap', 'oidc'] as const;
export type GroupSource = (typeof GROUP_SOURCES)[number];
export const EXTERNAL_GROUP_SOURCES = ['ldap', 'oidc'] as const;
export type ExternalGroupSource = (typeof EXTERNAL_GROUP_SOURCES)[number];

export const groups = pgTable('groups', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  description: text('description').notNull().default(''),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const groupMembers = pgTable(
  'group_members',
  {
    groupId: uuid('group_id')
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    source: text('source').notNull().$type<GroupSource>(),
    addedAt: timestamp('added_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.groupId, t.userId, t.source] }),
    index('group_members_user_idx').on(t.userId),
    check('group_members_source', sql`${t.source} IN ('local', 'ldap', 'oidc')`),
  ],
);

/**
 * "Members of this directory group / holders of this claim value belong to this Enclave group."
 * external: a normalized DN for 'ldap' (normalizeDn), the claim value as sent for 'oidc'.
 */
export const groupLinks = pgTable(
  'group_links',
  {
    groupId: uuid('group_id')
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    source: text('source').notNull().$type<ExternalGroupSource>(),
    external: text('external').notNull(),
  },
  (t) => [primaryKey({ columns: [t.source, t.external, t.groupId] }), index('group_links_group_idx').on(t.groupId), check('group_links_source', sql`${t.source} IN ('ldap', 'oidc')`)],
);

/**
 * A deployment granted to groups is usable only by their members (and still only by the roles in its
 * allowed_roles). A deployment with no grant is open to every role allowed, as before groups existed.
 */
export const deploymentGrants = pgTable(
  'deployment_grants',
  {
    deploymentId: uuid('deployment_id')
      .notNull()
      .references(() => deployments.id, { onDelete: 'cascade' }),
    groupId: uuid('group_id')
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    grantedAt: timestamp('granted_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.deploymentId, t.groupId] }), index('deployment_grants_group_idx').on(t.groupId)],
);
