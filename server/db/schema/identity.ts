import { sql } from 'drizzle-orm';
import { boolean, index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

export const ROLES = ['admin', 'engineer', 'user', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const roles = pgTable('roles', {
  name: text('name').primaryKey(),
  description: text('description').notNull(),
});

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    email: text('email').notNull().unique(),
    name: text('name').notNull().default(''),
    passwordHash: text('password_hash').notNull(),
    role: text('role').notNull().references(() => roles.name),
    locale: text('locale').notNull().default('en'),
    disabled: boolean('disabled').notNull().default(false),
    /** A one-time password (generated at first start, set or reset by an admin): nothing but changing it is allowed. */
    mustChangePassword: boolean('must_change_password').notNull().default(false),
    passwordChangedAt: timestamp('password_changed_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** Where the password is checked: 'local' (password_hash) or 'ldap' (a bind as external_dn; password_hash then holds an unusable marker). */
    authSource: text('auth_source').notNull().default('local'),
    /** The directory entry's DN for 'ldap' accounts: the account's identity there (its email may change). */
    externalDn: text('external_dn').unique(),
    /** The directory groups' DNs (nested ones resolved) at the last sign-in or sync, for group grants. */
    ldapGroups: text('ldap_groups').array().notNull().default(sql`'{}'::text[]`),
    /** The LDAP sync (not an admin) disabled the account: it is enabled again once the directory allows it. */
    disabledByDirectory: boolean('disabled_by_directory').notNull().default(false),
    ldapSyncedAt: timestamp('ldap_synced_at', { withTimezone: true }),
    /** The identity provider's group claim values at the last OIDC sign-in, for group links made later. */
    oidcGroups: text('oidc_groups').array().notNull().default(sql`'{}'::text[]`),
    /** For 'oidc' accounts: the provider's issuer and the ID token's `sub`, together the account's identity there (its email may change). */
    oidcIssuer: text('oidc_issuer'),
    oidcSubject: text('oidc_subject'),
  },
  (t) => [uniqueIndex('users_oidc_identity_idx').on(t.oidcIssuer, t.oidcSubject)],
);

/** Hashes of a user's earlier passwords (argon2id, as the current one), so the last N cannot come back. */
export const passwordHistory = pgTable(
  'password_history',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    passwordHash: text('password_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('password_history_user_idx').on(t.userId, t.createdAt)],
);

export const sessions = pgTable(
  'sessions',
  {
    /** sha256 of the cookie token: a database dump cannot be replayed as a session. */
    tokenHash: text('token_hash').primaryKey(),
    /** What lists and revocations name: the token hash never leaves the server. */
    id: uuid('id').notNull().unique().defaultRandom(),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    clientAddress: text('client_address'),
    userAgent: text('user_agent'),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('sessions_user_idx').on(t.userId)],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    /** First characters of the key, shown in lists so a user can tell keys apart. */
    prefix: text('prefix').notNull(),
    /** sha256 of the whole key; keys are 256-bit random, so a fast hash is safe and keeps auth off the CPU. */
    keyHash: text('key_hash').notNull().unique(),
    /** null: every model the owner may use. */
    models: text('models').array(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    /** Requests in flight at once through one gateway process; null: GATEWAY_MAX_CONCURRENT_PER_KEY, 0: no cap (a load test's own key). */
    maxConcurrent: integer('max_concurrent'),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('api_keys_user_idx').on(t.userId)],
);
