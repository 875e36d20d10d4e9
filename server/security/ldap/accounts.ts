import { and, eq, ne } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { sessions, users, type Role } from '../../db/schema';
import { writeAudit } from '../audit';
import { syncExternalGroups } from '../groups/membership';
import { announceCredentialChange } from '../credential-events';
import { roleForGroups, type LdapSettings } from './config';
import { LdapUnavailableError, withDirectory, type DirectoryEntry } from './directory';

type UserRow = typeof users.$inferSelect;

/** What password_hash holds for a directory account: no argon2 hash, so no local password ever matches. */
export const NO_LOCAL_PASSWORD = '!ldap';

export type LdapSignIn =
  | { ok: true; user: UserRow }
  /** reason is for the audit row only; the person is told what a wrong password is told, unless the directory is unavailable. */
  | { ok: false; reason: string; userId?: string; unavailable?: string };

/**
 * Checks a login and password against the directory: the service account finds the entry (the login
 * escaped into ENCLAVE_LDAP_USER_FILTER), a bind as that entry checks the password (kept nowhere), then
 * the entry's disabled state, groups (nested ones resolved) and role. A success creates or updates the
 * local account (auth source 'ldap', found again by its DN).
 */
export async function ldapSignIn(db: Db, s: LdapSettings, login: string, password: string): Promise<LdapSignIn> {
  let checked: { entry: DirectoryEntry; groups: string[]; role: Role } | { reason: string };
  try {
    checked = await withDirectory(s, async (d) => {
      const entry = await d.findUser(login);
      if (entry === 'ambiguous') return { reason: 'ldap-ambiguous-login' };
      if (!entry) return { reason: 'ldap-unknown-login' };
      if (!(await d.checkPassword(entry.dn, password))) return { reason: 'ldap-wrong-password', dn: entry.dn };
      if (await d.isDisabled(entry.dn)) return { reason: 'ldap-disabled', dn: entry.dn };
      const groups = await d.groupsOf(entry.dn);
      const role = roleForGroups(s, groups);
      if (!role) return { reason: 'ldap-no-role', dn: entry.dn };
      if (!entry.email) return { reason: 'ldap-no-email', dn: entry.dn };
      return { entry, groups, role };
    });
  } catch (e) {
    if (e instanceof LdapUnavailableError) return { ok: false, reason: 'ldap-unavailable', unavailable: e.message };
    throw e;
  }
  if ('reason' in checked) {
    const dn = (checked as { dn?: string }).dn;
    const [known] = dn ? await db.select().from(users).where(eq(users.externalDn, dn)) : [];
    // The right password for an entry the directory disabled, or left without a role: the account here follows at once (sessions too).
    if (known && (checked.reason === 'ldap-disabled' || checked.reason === 'ldap-no-role'))
      await disableFromDirectory(db, known, checked.reason === 'ldap-disabled' ? 'disabled' : 'no-role', 'ldap');
    return { ok: false, reason: checked.reason, userId: known?.id };
  }
  return upsertDirectoryUser(db, checked.entry, checked.groups, checked.role);
}

async function upsertDirectoryUser(db: Db, entry: DirectoryEntry, groups: string[], role: Role): Promise<LdapSignIn> {
  const email = entry.email!;
  const outcome = await db.transaction(async (tx): Promise<LdapSignIn & { changed?: boolean }> => {
    const [byDn] = await tx.select().from(users).where(eq(users.externalDn, entry.dn)).for('update');
    const [byEmail] = byDn ? [] : await tx.select().from(users).where(eq(users.email, email)).for('update');
    // A local account with this email stays local: the directory never takes over an account it did not create.
    if (byEmail && byEmail.authSource !== 'ldap') return { ok: false, reason: 'ldap-email-is-local-account', userId: byEmail.id };
    const existing = byDn ?? byEmail;
    if (existing?.disabled && !existing.disabledByDirectory) return { ok: false, reason: 'disabled', userId: existing.id };
    const fields = { externalDn: entry.dn, name: entry.name.slice(0, 200), role, ldapGroups: groups, ldapSyncedAt: new Date(), disabled: false, disabledByDirectory: false };
    if (existing) {
      // The email follows the directory, unless another account has it.
      const [taken] = email === existing.email ? [] : await tx.select({ id: users.id }).from(users).where(and(eq(users.email, email), ne(users.id, existing.id)));
      const [row] = await tx
        .update(users)
        .set({ ...fields, ...(taken ? {} : { email }) })
        .where(eq(users.id, existing.id))
        .returning();
      const changes = {
        ...(existing.role !== role ? { role: { from: existing.role, to: role } } : {}),
        ...(existing.email !== row!.email ? { email: { from: existing.email, to: row!.email } } : {}),
        ...(existing.disabled ? { enabled: true } : {}),
        ...(sameGroups(existing.ldapGroups, groups) ? {} : { groups }),
      };
      if (Object.keys(changes).length > 0) await writeAudit(tx, { actorLabel: 'ldap', action: 'ldap.account', target: `user:${existing.id}`, outcome: 'success', detail: { dn: entry.dn, ...changes } });
      await syncExternalGroups(tx, existing.id, 'ldap', groups);
      return { ok: true, user: row!, changed: existing.role !== role || existing.disabled };
    }
    const [row] = await tx.insert(users).values({ ...fields, email, authSource: 'ldap', passwordHash: NO_LOCAL_PASSWORD }).returning();
    await writeAudit(tx, { actorLabel: 'ldap', action: 'ldap.account', target: `user:${row!.id}`, outcome: 'success', detail: { dn: entry.dn, created: true, email, role, groups } });
    await syncExternalGroups(tx, row!.id, 'ldap', groups);
    return { ok: true, user: row! };
  });
  if (outcome.ok && outcome.changed) await announceCredentialChange({ userId: outcome.user.id });
  const { changed: _, ...result } = outcome as LdapSignIn & { changed?: boolean };
  return result;
}

export function sameGroups(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}

/**
 * Disables an account because the directory says so (its entry left, is disabled, or is in no group a
 * role comes from): its sessions end in the same transaction, with the audit row, and gateways are told.
 * An account already disabled is left as it is. True when it changed.
 */
export async function disableFromDirectory(
  db: Db,
  account: Pick<UserRow, 'id' | 'email' | 'externalDn'>,
  reason: 'left' | 'disabled' | 'no-role',
  actorLabel: 'ldap' | 'ldap-sync',
): Promise<boolean> {
  const changed = await db.transaction(async (tx) => {
    const [row] = await tx
      .update(users)
      .set({ disabled: true, disabledByDirectory: true, ldapSyncedAt: new Date() })
      .where(and(eq(users.id, account.id), eq(users.disabled, false)))
      .returning({ id: users.id });
    if (!row) return false;
    await tx.delete(sessions).where(eq(sessions.userId, account.id));
    await writeAudit(tx, { actorLabel, action: actorLabel === 'ldap' ? 'ldap.account' : 'ldap.sync', target: `user:${account.id}`, outcome: 'success', detail: { email: account.email, dn: account.externalDn, change: 'disabled', reason } });
    return true;
  });
  if (changed) await announceCredentialChange({ userId: account.id });
  return changed;
}
