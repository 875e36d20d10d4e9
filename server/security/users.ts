import { and, asc, count, eq, ne, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { passwordHistory, ROLES, sessions, users, type Role } from '../db/schema';
import type { Env } from '../core/env';
import type { DbOrTx } from '../db/types';
import { DomainError } from '../core/errors';
import { announceCredentialChange } from './credential-events';
import { generateOneTimePassword } from './password-change';
import { hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords';

// Loose on purpose: `admin@localhost` is a valid address for a private install, which zod's email() refuses.
const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export interface NewUser {
  email: string;
  password: string;
  role: string;
  name?: string;
  /** A password someone else chose (an admin, the CLI, the first start): its owner must change it at first sign-in. */
  oneTime?: boolean;
}

export type PublicUser = Pick<typeof users.$inferSelect, 'id' | 'email' | 'name' | 'role' | 'locale' | 'disabled' | 'mustChangePassword' | 'createdAt'>;
const publicColumns = {
  id: users.id,
  email: users.email,
  name: users.name,
  role: users.role,
  locale: users.locale,
  disabled: users.disabled,
  mustChangePassword: users.mustChangePassword,
  createdAt: users.createdAt,
};

function validateNewUser(input: NewUser): { email: string; role: Role; name: string } {
  const email = normalizeEmail(input.email);
  if (email.length > 254 || !EMAIL.test(email)) throw new DomainError('BAD_REQUEST', `Not a valid email address: ${input.email}`);
  if (input.password.length < MIN_PASSWORD_LENGTH)
    throw new DomainError('BAD_REQUEST', `The password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (input.password.length > MAX_PASSWORD_LENGTH)
    throw new DomainError('BAD_REQUEST', `The password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  if (!isRole(input.role)) throw new DomainError('BAD_REQUEST', `Unknown role "${input.role}": use one of ${ROLES.join(', ')}`);
  const name = (input.name ?? '').trim();
  if (name.length > 200) throw new DomainError('BAD_REQUEST', 'The name must be at most 200 characters');
  return { email, role: input.role, name };
}

export async function createUser(db: DbOrTx, input: NewUser): Promise<PublicUser> {
  const { email, role, name } = validateNewUser(input);
  const passwordHash = await hashPassword(input.password);
  const mustChangePassword = input.oneTime ?? false;
  const [row] = await db
    .insert(users)
    .values({ email, role, name, passwordHash, mustChangePassword })
    .onConflictDoNothing({ target: users.email })
    .returning(publicColumns);
  if (!row) throw new DomainError('CONFLICT', `A user with the email ${email} already exists`);
  // The first entry of the history: the first change cannot set the same password again.
  await db.insert(passwordHistory).values({ userId: row.id, passwordHash });
  return row;
}

export interface EnsureAdminResult {
  created: boolean;
  email: string;
  /** Only when Enclave generated the password: print it once, it is stored nowhere in clear. */
  oneTimePassword?: string;
}

/**
 * Makes sure an admin exists. The first start creates one from ENCLAVE_ADMIN_EMAIL/PASSWORD, or
 * admin@localhost with a generated password returned for the caller to print once. An advisory lock
 * keeps two roles starting together from both creating one.
 */
export async function ensureAdmin(db: Db, env: Pick<Env, 'ENCLAVE_ADMIN_EMAIL' | 'ENCLAVE_ADMIN_PASSWORD'>): Promise<EnsureAdminResult> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext('enclave.ensure-admin'))`);
    const [existing] = await tx.select({ email: users.email }).from(users).where(eq(users.role, 'admin')).orderBy(asc(users.createdAt)).limit(1);
    if (existing) return { created: false, email: existing.email };
    const oneTimePassword = env.ENCLAVE_ADMIN_PASSWORD ? undefined : generateOneTimePassword();
    const email = env.ENCLAVE_ADMIN_EMAIL ?? 'admin@localhost';
    // A password the operator configured is theirs; a generated one is printed in a log and must be changed.
    await createUser(tx, { email, password: env.ENCLAVE_ADMIN_PASSWORD ?? oneTimePassword!, role: 'admin', name: 'Administrator', oneTime: !!oneTimePassword });
    return { created: true, email: normalizeEmail(email), ...(oneTimePassword ? { oneTimePassword } : {}) };
  });
}

export function listUsers(db: Db): Promise<PublicUser[]> {
  return db.select(publicColumns).from(users).orderBy(asc(users.createdAt));
}

/** Refuses a change that would leave no enabled admin: nobody could manage the install any more. */
async function assertAnotherAdmin(db: Db, userId: string): Promise<void> {
  const [row] = await db
    .select({ n: count() })
    .from(users)
    .where(and(eq(users.role, 'admin'), eq(users.disabled, false), ne(users.id, userId)));
  if (!row || row.n === 0) throw new DomainError('CONFLICT', 'This is the last enabled admin: make another admin first');
}

async function getTarget(db: Db, id: string) {
  const [row] = await db.select(publicColumns).from(users).where(eq(users.id, id));
  if (!row) throw new DomainError('NOT_FOUND', 'No such user');
  return row;
}

export async function setUserRole(db: Db, id: string, role: string): Promise<PublicUser> {
  if (!isRole(role)) throw new DomainError('BAD_REQUEST', `Unknown role "${role}": use one of ${ROLES.join(', ')}`);
  const target = await getTarget(db, id);
  if (target.role === 'admin' && role !== 'admin' && !target.disabled) await assertAnotherAdmin(db, id);
  const [row] = await db.update(users).set({ role }).where(eq(users.id, id)).returning(publicColumns);
  // A role decides which models the user's keys reach: every gateway must forget what it knew.
  await announceCredentialChange({ userId: id });
  return row!;
}

/** Disabling also ends the user's sessions, so it takes effect at once. */
export async function setUserDisabled(db: Db, id: string, disabled: boolean): Promise<PublicUser> {
  const target = await getTarget(db, id);
  if (disabled && target.role === 'admin' && !target.disabled) await assertAnotherAdmin(db, id);
  const row = await db.transaction(async (tx) => {
    const [updated] = await tx.update(users).set({ disabled }).where(eq(users.id, id)).returning(publicColumns);
    if (disabled) await tx.delete(sessions).where(eq(sessions.userId, id));
    return updated!;
  });
  await announceCredentialChange({ userId: id });
  return row;
}

export async function setUserLocale(db: Db, id: string, locale: string): Promise<void> {
  await db.update(users).set({ locale }).where(eq(users.id, id));
}
