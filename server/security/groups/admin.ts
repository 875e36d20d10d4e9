import { and, asc, eq, inArray } from 'drizzle-orm';
import type { DbOrTx } from '../../db/types';
import { deploymentGrants, deployments, groupLinks, groupMembers, groups, quotas, users, type ExternalGroupSource } from '../../db/schema';
import { DomainError } from '../../core/errors';
import { announceCredentialChange } from '../credential-events';
import { externalKey, resyncGroupLinks } from './membership';

/**
 * What admins do with groups. Each function runs in the mutation's transaction (its audit row is written
 * by the mutation guard with it); the gateways hear of membership and grant changes after the commit.
 */

/** Every group with its member count, links and granted deployments, for the admin page. */
export async function listGroups(db: DbOrTx) {
  const [rows, links, grants] = await Promise.all([
    db.select().from(groups).orderBy(asc(groups.name)),
    db.select().from(groupLinks).orderBy(asc(groupLinks.source), asc(groupLinks.external)),
    db
      .select({ groupId: deploymentGrants.groupId, deploymentId: deployments.id, name: deployments.name })
      .from(deploymentGrants)
      .innerJoin(deployments, eq(deployments.id, deploymentGrants.deploymentId))
      .orderBy(asc(deployments.name)),
  ]);
  // A user in a group through two sources counts once.
  const distinct = await db.selectDistinct({ groupId: groupMembers.groupId, userId: groupMembers.userId }).from(groupMembers);
  const members = new Map<string, number>();
  for (const m of distinct) members.set(m.groupId, (members.get(m.groupId) ?? 0) + 1);
  return rows.map((g) => ({
    id: g.id,
    name: g.name,
    description: g.description,
    createdAt: g.createdAt,
    members: members.get(g.id) ?? 0,
    links: links.filter((l) => l.groupId === g.id).map((l) => ({ source: l.source, external: l.external })),
    deployments: grants.filter((d) => d.groupId === g.id).map((d) => ({ id: d.deploymentId, name: d.name })),
  }));
}

/** One group's members, each with the sources that put them there. */
export async function groupMembersOf(db: DbOrTx, groupId: string) {
  await requireGroup(db, groupId);
  const rows = await db
    .select({ userId: users.id, email: users.email, name: users.name, role: users.role, disabled: users.disabled, source: groupMembers.source })
    .from(groupMembers)
    .innerJoin(users, eq(users.id, groupMembers.userId))
    .where(eq(groupMembers.groupId, groupId))
    .orderBy(asc(users.email));
  const byUser = new Map<string, { userId: string; email: string; name: string; role: string; disabled: boolean; sources: string[] }>();
  for (const r of rows) {
    const m = byUser.get(r.userId) ?? { userId: r.userId, email: r.email, name: r.name, role: r.role, disabled: r.disabled, sources: [] };
    m.sources.push(r.source);
    byUser.set(r.userId, m);
  }
  return [...byUser.values()];
}

/** The groups the user is in, by name (the account page). */
export async function groupsOfUser(db: DbOrTx, userId: string) {
  const rows = await db
    .select({ id: groups.id, name: groups.name, source: groupMembers.source })
    .from(groupMembers)
    .innerJoin(groups, eq(groups.id, groupMembers.groupId))
    .where(eq(groupMembers.userId, userId))
    .orderBy(asc(groups.name));
  const out = new Map<string, { id: string; name: string; sources: string[] }>();
  for (const r of rows) out.set(r.id, { id: r.id, name: r.name, sources: [...(out.get(r.id)?.sources ?? []), r.source] });
  return [...out.values()];
}

async function requireGroup(db: DbOrTx, id: string) {
  const [g] = await db.select().from(groups).where(eq(groups.id, id)).limit(1);
  if (!g) throw new DomainError('NOT_FOUND', 'No such group');
  return g;
}

async function nameFree(db: DbOrTx, name: string, except?: string) {
  const [taken] = await db.select({ id: groups.id }).from(groups).where(eq(groups.name, name)).limit(1);
  if (taken && taken.id !== except) throw new DomainError('CONFLICT', `name: a group named '${name}' exists`);
}

export async function createGroup(db: DbOrTx, input: { name: string; description?: string }) {
  await nameFree(db, input.name);
  const [row] = await db.insert(groups).values({ name: input.name, description: input.description ?? '' }).returning();
  return { id: row!.id, name: row!.name };
}

export async function updateGroup(db: DbOrTx, input: { id: string; name?: string; description?: string }) {
  await requireGroup(db, input.id);
  if (input.name !== undefined) await nameFree(db, input.name, input.id);
  const set = { ...(input.name !== undefined ? { name: input.name } : {}), ...(input.description !== undefined ? { description: input.description } : {}) };
  if (Object.keys(set).length) await db.update(groups).set(set).where(eq(groups.id, input.id));
  return { id: input.id };
}

/**
 * Members lose its quota pool at once, on every gateway. A group still granted deployments is not
 * removed: were it the last grant, the deployment would open to every role it allows, so the admin
 * revokes the grants first, knowingly.
 */
export async function removeGroup(db: DbOrTx, id: string) {
  const g = await requireGroup(db, id);
  const granted = await db
    .select({ name: deployments.name })
    .from(deploymentGrants)
    .innerJoin(deployments, eq(deployments.id, deploymentGrants.deploymentId))
    .where(eq(deploymentGrants.groupId, id));
  if (granted.length)
    throw new DomainError('CONFLICT', `The group '${g.name}' is granted ${granted.map((d) => `'${d.name}'`).join(', ')}: revoke those grants first`);
  const members = await db.selectDistinct({ userId: groupMembers.userId }).from(groupMembers).where(eq(groupMembers.groupId, id));
  // quotas.subject_id names the group without a foreign key (it may name a user or a key too).
  await db.delete(quotas).where(and(eq(quotas.subjectKind, 'group'), eq(quotas.subjectId, id)));
  await db.delete(groups).where(eq(groups.id, id));
  for (const m of members) await announceCredentialChange({ userId: m.userId });
  await announceCredentialChange({ quotas: true });
  return { id, name: g.name, members: members.length };
}

export async function addMember(db: DbOrTx, groupId: string, userId: string) {
  await requireGroup(db, groupId);
  const [u] = await db.select({ id: users.id }).from(users).where(eq(users.id, userId)).limit(1);
  if (!u) throw new DomainError('NOT_FOUND', 'userId: no such user');
  const added = await db.insert(groupMembers).values({ groupId, userId, source: 'local' }).onConflictDoNothing().returning();
  if (added.length === 0) throw new DomainError('CONFLICT', 'This user is already a member of this group (added by an admin)');
  await announceCredentialChange({ userId });
  return { groupId, userId };
}

/** Only an admin's own ('local') membership: one from the directory or the identity provider is theirs to take away. */
export async function removeMember(db: DbOrTx, groupId: string, userId: string) {
  await requireGroup(db, groupId);
  const gone = await db
    .delete(groupMembers)
    .where(and(eq(groupMembers.groupId, groupId), eq(groupMembers.userId, userId), eq(groupMembers.source, 'local')))
    .returning();
  if (gone.length === 0) {
    const [synced] = await db.select({ source: groupMembers.source }).from(groupMembers).where(and(eq(groupMembers.groupId, groupId), eq(groupMembers.userId, userId))).limit(1);
    if (synced)
      throw new DomainError('CONFLICT', `This membership comes from ${synced.source === 'ldap' ? 'the directory (LDAP)' : 'the identity provider (OIDC)'}: change it there, or remove the group link`);
    throw new DomainError('NOT_FOUND', 'This user is not a member of this group');
  }
  await announceCredentialChange({ userId });
  return { groupId, userId };
}

/** Links a directory group (its DN) or a claim value to the group; accounts already known to match join at once. */
export async function setLink(db: DbOrTx, input: { groupId: string; source: ExternalGroupSource; external: string; present: boolean }) {
  await requireGroup(db, input.groupId);
  const external = externalKey(input.source, input.external);
  if (input.source === 'ldap' && !/^[^=,]+=[^,]+(,[^=,]+=[^,]+)*$/.test(external)) throw new DomainError('BAD_REQUEST', `external: '${input.external}' is not an LDAP group DN (cn=...,ou=...,dc=...)`);
  const where = and(eq(groupLinks.groupId, input.groupId), eq(groupLinks.source, input.source), eq(groupLinks.external, external));
  if (input.present) {
    const added = await db.insert(groupLinks).values({ groupId: input.groupId, source: input.source, external }).onConflictDoNothing().returning();
    if (added.length === 0) throw new DomainError('CONFLICT', 'This link exists');
  } else {
    const gone = await db.delete(groupLinks).where(where).returning();
    if (gone.length === 0) throw new DomainError('NOT_FOUND', 'No such link');
  }
  const changed = await resyncGroupLinks(db, input.groupId);
  return { groupId: input.groupId, source: input.source, external, membersChanged: changed.length };
}

/**
 * Grants a deployment to a group (or takes it back). Once a deployment has a grant, only members of
 * granted groups may use it; when its last grant goes, every role it allows may again (the answer's
 * grantedGroups is 0, and the page says so).
 */
export async function setGrant(db: DbOrTx, input: { groupId: string; deploymentId: string; granted: boolean }) {
  await requireGroup(db, input.groupId);
  const [d] = await db.select({ id: deployments.id, name: deployments.name }).from(deployments).where(eq(deployments.id, input.deploymentId)).limit(1);
  if (!d) throw new DomainError('NOT_FOUND', 'deploymentId: no such deployment');
  if (input.granted) {
    const added = await db.insert(deploymentGrants).values({ groupId: input.groupId, deploymentId: input.deploymentId }).onConflictDoNothing().returning();
    if (added.length === 0) throw new DomainError('CONFLICT', `'${d.name}' is already granted to this group`);
  } else {
    const gone = await db
      .delete(deploymentGrants)
      .where(and(eq(deploymentGrants.groupId, input.groupId), eq(deploymentGrants.deploymentId, input.deploymentId)))
      .returning();
    if (gone.length === 0) throw new DomainError('NOT_FOUND', `'${d.name}' is not granted to this group`);
  }
  const left = await db.select({ groupId: deploymentGrants.groupId }).from(deploymentGrants).where(inArray(deploymentGrants.deploymentId, [input.deploymentId]));
  await announceCredentialChange({ routes: true });
  return { groupId: input.groupId, deploymentId: input.deploymentId, deployment: d.name, grantedGroups: left.length };
}
