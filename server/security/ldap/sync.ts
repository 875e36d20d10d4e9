import { and, eq, isNotNull } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { users } from '../../db/schema';
import { syncExternalGroups } from '../groups/membership';
import { writeAudit } from '../audit';
import { announceCredentialChange } from '../credential-events';
import { roleForGroups, type LdapSettings } from './config';
import { withDirectory } from './directory';
import { disableFromDirectory, sameGroups } from './accounts';

export interface LdapSyncResult {
  checked: number;
  /** Emails of the accounts disabled, each with why: left (no entry), disabled (the disabled filter), no-role. */
  disabled: { email: string; reason: 'left' | 'disabled' | 'no-role' }[];
  /** Accounts the sync had disabled that the directory allows again. */
  enabled: string[];
  roleChanged: { email: string; from: string; to: string }[];
}

/**
 * Checks every directory account against the directory, as the service account: an entry gone (or moved
 * out of the user base), matching the disabled filter, or in no group a role comes from disables the
 * account and ends its sessions at once; one the sync itself had disabled comes back when the directory
 * allows it again (an admin's disable stays); roles and groups follow the directory. Each change commits
 * with its audit row. The directory unreachable, or the user base missing, throws before anything changes.
 */
export async function syncLdapAccounts(db: Db, s: LdapSettings): Promise<LdapSyncResult> {
  const result: LdapSyncResult = { checked: 0, disabled: [], enabled: [], roleChanged: [] };
  const accounts = await db
    .select()
    .from(users)
    .where(and(eq(users.authSource, 'ldap'), isNotNull(users.externalDn)));
  await withDirectory(s, async (d) => {
    await d.assertUserBase();
    for (const account of accounts) {
      // An admin disabled it: the directory does not decide for them.
      if (account.disabled && !account.disabledByDirectory) continue;
      result.checked++;
      const dn = account.externalDn!;
      const entry = await d.readUser(dn);
      let reason: 'left' | 'disabled' | 'no-role' | undefined = !entry ? 'left' : (await d.isDisabled(dn)) ? 'disabled' : undefined;
      const groups = reason ? account.ldapGroups : await d.groupsOf(dn);
      const role = reason ? null : roleForGroups(s, groups);
      if (!reason && !role) reason = 'no-role';
      if (reason) {
        if (await disableFromDirectory(db, account, reason, 'ldap-sync')) result.disabled.push({ email: account.email, reason });
        continue;
      }
      const audit = { actorLabel: 'ldap-sync', action: 'ldap.sync', target: `user:${account.id}`, outcome: 'success' as const };
      let announce = false;
      await db.transaction(async (tx) => {
        // The email follows the directory, unless another account has it.
        const email = entry!.email && entry!.email !== account.email && !(await tx.select({ id: users.id }).from(users).where(eq(users.email, entry!.email))).length ? entry!.email : account.email;
        const changes = {
          ...(account.disabled ? { enabled: true } : {}),
          ...(account.role !== role ? { role: { from: account.role, to: role } } : {}),
          ...(email !== account.email ? { email: { from: account.email, to: email } } : {}),
          ...(sameGroups(account.ldapGroups, groups) ? {} : { groups }),
        };
        await tx
          .update(users)
          .set({ disabled: false, disabledByDirectory: false, role: role!, email, name: entry!.name.slice(0, 200), ldapGroups: groups, ldapSyncedAt: new Date() })
          .where(eq(users.id, account.id));
        // Enclave groups linked to the directory's groups follow them (audited there when they change).
        await syncExternalGroups(tx, account.id, 'ldap', groups);
        if (Object.keys(changes).length === 0) return;
        await writeAudit(tx, { ...audit, detail: { email: account.email, dn, change: 'updated', ...changes } });
        if (account.disabled) result.enabled.push(account.email);
        if (account.role !== role) result.roleChanged.push({ email: account.email, from: account.role, to: role! });
        announce = account.disabled || account.role !== role;
      });
      if (announce) await announceCredentialChange({ userId: account.id });
    }
  });
  return result;
}
