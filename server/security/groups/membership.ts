import { and, eq, inArray } from 'drizzle-orm';
import type { DbOrTx } from '../../db/types';
import { groupLinks, groupMembers, groups, users, type ExternalGroupSource } from '../../db/schema';
import { writeAudit } from '../audit';
import { announceCredentialChange } from '../credential-events';
import { normalizeDn } from '../ldap/filter';

/** The groups a user belongs to, by any source: what grants and group quotas are checked against. */
export async function groupIdsOf(db: DbOrTx, userId: string): Promise<string[]> {
  const rows = await db.selectDistinct({ id: groupMembers.groupId }).from(groupMembers).where(eq(groupMembers.userId, userId));
  return rows.map((r) => r.id).sort();
}

/** How a source's group names compare: DNs are normalized (case, spaces around `=`), claim values are taken as sent. */
export function externalKey(source: ExternalGroupSource, value: string): string {
  return source === 'ldap' ? normalizeDn(value) : value;
}

/**
 * Makes the user's memberships from `source` match what it says now: the Enclave groups linked to any of
 * `externals` (LDAP group DNs, or the OIDC group claim's values). Memberships from other sources (an
 * admin's 'local' ones) are left alone. Run inside the sign-in's or sync's transaction; a change is
 * audited there and announced to the gateways after the commit (every transaction holds afterCommit
 * hooks until it commits: db/client.ts). True when something changed.
 */
export async function syncExternalGroups(tx: DbOrTx, userId: string, source: ExternalGroupSource, externals: readonly string[]): Promise<boolean> {
  const keys = [...new Set(externals.map((v) => externalKey(source, v)))];
  const linked = keys.length
    ? await tx.selectDistinct({ id: groupLinks.groupId }).from(groupLinks).where(and(eq(groupLinks.source, source), inArray(groupLinks.external, keys)))
    : [];
  const target = new Set(linked.map((r) => r.id));
  const current = new Set(
    (await tx.select({ id: groupMembers.groupId }).from(groupMembers).where(and(eq(groupMembers.userId, userId), eq(groupMembers.source, source)))).map((r) => r.id),
  );
  const added = [...target].filter((id) => !current.has(id));
  const removed = [...current].filter((id) => !target.has(id));
  if (added.length === 0 && removed.length === 0) return false;
  if (removed.length) await tx.delete(groupMembers).where(and(eq(groupMembers.userId, userId), eq(groupMembers.source, source), inArray(groupMembers.groupId, removed)));
  if (added.length) await tx.insert(groupMembers).values(added.map((groupId) => ({ groupId, userId, source }))).onConflictDoNothing();
  const names = await groupNames(tx, [...added, ...removed]);
  await writeAudit(tx, {
    actorLabel: source,
    action: 'groups.sync',
    target: `user:${userId}`,
    outcome: 'success',
    detail: { source, added: added.map((id) => names.get(id) ?? id), removed: removed.map((id) => names.get(id) ?? id) },
  });
  await announceCredentialChange({ userId });
  return true;
}

/**
 * After a group's links changed: every account whose last known directory groups or claim values match
 * a link now is a member from that source, and no other is. Computed from what sign-ins and syncs stored
 * (users.ldap_groups, users.oidc_groups), so a link works before the next sign-in. Returns the users whose
 * membership changed (announced to the gateways after the commit).
 */
export async function resyncGroupLinks(tx: DbOrTx, groupId: string): Promise<string[]> {
  const links = await tx.select().from(groupLinks).where(eq(groupLinks.groupId, groupId));
  const changed: string[] = [];
  for (const source of ['ldap', 'oidc'] as const) {
    const wanted = new Set(links.filter((l) => l.source === source).map((l) => l.external));
    const column = source === 'ldap' ? users.ldapGroups : users.oidcGroups;
    const candidates = await tx.select({ id: users.id, externals: column }).from(users);
    const should = new Set(candidates.filter((u) => u.externals.some((v) => wanted.has(externalKey(source, v)))).map((u) => u.id));
    const are = new Set(
      (await tx.select({ userId: groupMembers.userId }).from(groupMembers).where(and(eq(groupMembers.groupId, groupId), eq(groupMembers.source, source)))).map((r) => r.userId),
    );
    const add = [...should].filter((id) => !are.has(id));
    const drop = [...are].filter((id) => !should.has(id));
    if (add.length) await tx.insert(groupMembers).values(add.map((userId) => ({ groupId, userId, source }))).onConflictDoNothing();
    if (drop.length) await tx.delete(groupMembers).where(and(eq(groupMembers.groupId, groupId), eq(groupMembers.source, source), inArray(groupMembers.userId, drop)));
    changed.push(...add, ...drop);
  }
  for (const userId of new Set(changed)) await announceCredentialChange({ userId });
  return [...new Set(changed)];
}

async function groupNames(tx: DbOrTx, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await tx.select({ id: groups.id, name: groups.name }).from(groups).where(inArray(groups.id, ids));
  return new Map(rows.map((r) => [r.id, r.name]));
}
