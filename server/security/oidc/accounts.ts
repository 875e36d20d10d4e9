import { and, eq, ne } from 'drizzle-orm';
import { sessions, users, type Role } from '../../db/schema';
import type { DbOrTx } from '../../db/types';
import { writeAudit } from '../audit';
import { syncExternalGroups } from '../groups/membership';
import { sameGroups } from '../ldap/accounts';
import type { ProviderConfig } from './config';
import { OidcRefused } from './refusals';

type UserRow = typeof users.$inferSelect;

/** What password_hash holds for an OIDC account: no argon2 hash, so no password ever matches. */
export const NO_LOCAL_PASSWORD = '!oidc';

/** Who the provider says signed in, from the validated ID token (and userinfo). */
export interface OidcIdentity {
  issuer: string;
  subject: string;
  email: string;
  name: string;
  /** The groups claim's values. */
  groups: string[];
  /** From the provider's role rules; null: no rule matched and there is no default. */
  role: Role | null;
}

export interface OidcAccountResult {
  user: UserRow;
  /** Role changed or account enabled again: gateways are told after the commit. */
  credentialsChanged: boolean;
}

/**
 * The account this identity signs in to, created or brought up to date from the claims, inside the
 * caller's transaction (the sign-in's session and audit rows commit with it). The account is found by
 * (issuer, subject) only: an email is not an identity, so an existing account with the same email (a
 * local one, an LDAP one) is never taken over, and with `jit: false` nobody new gets in. A refusal
 * throws OidcRefused; a refusal that changes the account (disabled for having no role) must commit, so
 * it is returned as `disabledNow` for the caller to commit and then refuse.
 */
export async function oidcAccount(tx: DbOrTx, p: ProviderConfig, id: OidcIdentity): Promise<OidcAccountResult | { disabledNow: UserRow }> {
  const [linked] = await tx
    .select()
    .from(users)
    .where(and(eq(users.oidcIssuer, id.issuer), eq(users.oidcSubject, id.subject)))
    .for('update');
  if (!linked) return createAccount(tx, p, id);
  // Disabled by an admin: refused. Disabled because the claims gave no role: a role now enables it again.
  if (linked.disabled && !linked.disabledByDirectory) throw new OidcRefused('disabled', 'the account is disabled', linked.id);
  if (!id.role) {
    if (linked.disabled) throw new OidcRefused('no-role', 'no role rule matched the claims and there is no default role', linked.id);
    return { disabledNow: await disableForNoRole(tx, linked) };
  }
  // The email follows the provider, unless another account has it.
  const [taken] = id.email === linked.email ? [] : await tx.select({ id: users.id }).from(users).where(and(eq(users.email, id.email), ne(users.id, linked.id)));
  const [row] = await tx
    .update(users)
    .set({ name: id.name, role: id.role, oidcGroups: id.groups, disabled: false, disabledByDirectory: false, ...(taken ? {} : { email: id.email }) })
    .where(eq(users.id, linked.id))
    .returning();
  const changes = {
    ...(linked.role !== id.role ? { role: { from: linked.role, to: id.role } } : {}),
    ...(linked.email !== row!.email ? { email: { from: linked.email, to: row!.email } } : {}),
    ...(linked.disabled ? { enabled: true } : {}),
    ...(sameGroups(linked.oidcGroups, id.groups) ? {} : { groups: id.groups }),
  };
  if (Object.keys(changes).length > 0)
    await writeAudit(tx, { actorLabel: `oidc:${p.id}`, action: 'oidc.account', target: `user:${linked.id}`, outcome: 'success', detail: { provider: p.id, subject: id.subject, ...changes } });
  const groupsChanged = await syncExternalGroups(tx, linked.id, 'oidc', id.groups);
  return { user: row!, credentialsChanged: linked.role !== id.role || linked.disabled || groupsChanged };
}

async function createAccount(tx: DbOrTx, p: ProviderConfig, id: OidcIdentity): Promise<OidcAccountResult> {
  const [byEmail] = await tx.select({ id: users.id, authSource: users.authSource }).from(users).where(eq(users.email, id.email));
  // Linking by email would hand the account to whoever holds that address at the provider.
  if (byEmail) throw new OidcRefused('account-exists', `an account (${byEmail.authSource}) already has this email and is not linked to this provider`, byEmail.id);
  if (!p.jit) throw new OidcRefused('no-account', 'no account is linked to this identity and just-in-time accounts are off for this provider');
  if (!id.role) throw new OidcRefused('no-role', 'no role rule matched the claims and there is no default role');
  const [row] = await tx
    .insert(users)
    .values({ email: id.email, name: id.name, role: id.role, authSource: 'oidc', passwordHash: NO_LOCAL_PASSWORD, oidcIssuer: id.issuer, oidcSubject: id.subject, oidcGroups: id.groups })
    .returning();
  await writeAudit(tx, {
    actorLabel: `oidc:${p.id}`,
    action: 'oidc.account',
    target: `user:${row!.id}`,
    outcome: 'success',
    detail: { provider: p.id, subject: id.subject, created: true, email: id.email, role: id.role, groups: id.groups },
  });
  await syncExternalGroups(tx, row!.id, 'oidc', id.groups);
  return { user: row!, credentialsChanged: false };
}

/** The claims no longer give a role: the account follows at once (its sessions end), as LDAP's does. */
async function disableForNoRole(tx: DbOrTx, account: UserRow): Promise<UserRow> {
  const [row] = await tx.update(users).set({ disabled: true, disabledByDirectory: true }).where(eq(users.id, account.id)).returning();
  await tx.delete(sessions).where(eq(sessions.userId, account.id));
  await writeAudit(tx, { actorLabel: 'oidc', action: 'oidc.account', target: `user:${account.id}`, outcome: 'success', detail: { email: account.email, change: 'disabled', reason: 'no-role' } });
  return row!;
}
