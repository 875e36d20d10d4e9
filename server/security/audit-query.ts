import { and, desc, eq, gte, inArray, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { DomainError } from '../core/errors';
import { isUuid } from '../core/ids';
import type { Db } from '../db/client';
import { apiKeys, AUDIT_OUTCOMES, auditLog, deployments, groups, users } from '../db/schema';

/** The audit page's filters; each is optional, all given must hold. */
export const auditFilterSchema = z.object({
  /** A user's email or id, a key's name, or a label such as `system`. */
  actor: z.string().trim().min(1).max(320).optional(),
  /** An action (`auth.signIn`), or a family of them: `auth.` or just `auth` (what people type). */
  action: z.string().trim().min(1).max(120).optional(),
  /** What was acted on: an id, or a user's email, a key's or deployment's or group's name. */
  target: z.string().trim().min(1).max(400).optional(),
  outcome: z.enum(AUDIT_OUTCOMES).optional(),
  from: z.string().datetime({ offset: true }).optional(),
  to: z.string().datetime({ offset: true }).optional(),
});
export type AuditFilter = z.infer<typeof auditFilterSchema>;

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Ids a name may stand for (users by email, keys, deployments and groups by name). */
async function idsNamed(db: Db, name: string): Promise<string[]> {
  const [u, k, d, g] = await Promise.all([
    db.select({ id: users.id }).from(users).where(sql`lower(${users.email}) = lower(${name})`),
    db.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.name, name)).limit(50),
    db.select({ id: deployments.id }).from(deployments).where(eq(deployments.name, name)).limit(50),
    db.select({ id: groups.id }).from(groups).where(eq(groups.name, name)).limit(50),
  ]);
  return [...u, ...k, ...d, ...g].map((r) => r.id);
}

/** The WHERE of a filter. Every branch has an index ending in id (migration 0020), so newest-first pages stay quick. */
export async function auditWhere(db: Db, f: AuditFilter): Promise<SQL | undefined> {
  const parts: (SQL | undefined)[] = [];
  if (f.actor) {
    const userIds = isUuid(f.actor) ? [f.actor] : (await db.select({ id: users.id }).from(users).where(sql`lower(${users.email}) = lower(${f.actor})`)).map((u) => u.id);
    // Labels are matched as given and in lower case (emails are stored lower-cased).
    const labels = [...new Set([f.actor, f.actor.toLowerCase()])];
    parts.push(userIds.length ? or(inArray(auditLog.actorUserId, userIds), inArray(auditLog.actorLabel, labels)) : inArray(auditLog.actorLabel, labels));
  }
  if (f.from && f.to && new Date(f.from) > new Date(f.to)) throw new DomainError('BAD_REQUEST', 'The audit filter\'s "from" must not be after its "to"');
  if (f.action) {
    // `auth.` is the family; `auth` is that action or that family (typing the family without its dot found nothing).
    const family = sql`${auditLog.action} LIKE ${escapeLike(f.action.endsWith('.') ? f.action : `${f.action}.`) + '%'}`;
    parts.push(f.action.endsWith('.') ? family : or(eq(auditLog.action, f.action), family));
  }
  if (f.target) {
    const ids = isUuid(f.target) ? [] : await idsNamed(db, f.target);
    parts.push(inArray(auditLog.target, [f.target, ...ids]));
  }
  if (f.outcome) parts.push(eq(auditLog.outcome, f.outcome));
  if (f.from) parts.push(gte(auditLog.at, new Date(f.from)));
  if (f.to) parts.push(lte(auditLog.at, new Date(f.to)));
  return and(...parts);
}

const columns = {
  id: auditLog.id,
  at: auditLog.at,
  actorUserId: auditLog.actorUserId,
  actorLabel: auditLog.actorLabel,
  action: auditLog.action,
  target: auditLog.target,
  clientAddress: auditLog.clientAddress,
  outcome: auditLog.outcome,
  detail: auditLog.detail,
};

export type AuditRow = { id: number; at: Date; actorUserId: string | null; actorLabel: string | null; action: string; target: string | null; clientAddress: string | null; outcome: string; detail: Record<string, unknown> };

/** Newest first, `limit` rows below `beforeId` (keyset: the cost of a page does not grow with how deep it is). */
export async function auditPage(db: Db, where: SQL | undefined, { limit, beforeId }: { limit: number; beforeId?: number }): Promise<AuditRow[]> {
  return db
    .select(columns)
    .from(auditLog)
    .where(and(where, beforeId === undefined ? undefined : lt(auditLog.id, beforeId)))
    .orderBy(desc(auditLog.id))
    .limit(limit);
}

export type NameKind = 'user' | 'key' | 'deployment' | 'group';

/** Readable names for the ids on a page: users' emails, keys', deployments' and groups' names (as they are now). */
export async function auditNames(db: Db, rows: AuditRow[]): Promise<Record<string, { kind: NameKind; name: string }>> {
  const ids = [...new Set(rows.flatMap((r) => [r.actorUserId, r.target]).filter((v): v is string => !!v && isUuid(v)))];
  if (!ids.length) return {};
  const [u, k, d, g] = await Promise.all([
    db.select({ id: users.id, name: users.email }).from(users).where(inArray(users.id, ids)),
    db.select({ id: apiKeys.id, name: apiKeys.name }).from(apiKeys).where(inArray(apiKeys.id, ids)),
    db.select({ id: deployments.id, name: deployments.name }).from(deployments).where(inArray(deployments.id, ids)),
    db.select({ id: groups.id, name: groups.name }).from(groups).where(inArray(groups.id, ids)),
  ]);
  const names: Record<string, { kind: NameKind; name: string }> = {};
  for (const [kind, list] of [['user', u], ['key', k], ['deployment', d], ['group', g]] as const) for (const r of list) names[r.id] = { kind, name: r.name };
  return names;
}

/**
 * One filtered page with its names and the cursor of the next: null exactly when nothing is left (one
 * row more is read to know, so a trail of exactly `limit` rows offers no "load more" that loads nothing).
 */
export async function listAuditFiltered(db: Db, filter: AuditFilter, { limit, beforeId }: { limit: number; beforeId?: number }) {
  const read = await auditPage(db, await auditWhere(db, filter), { limit: limit + 1, beforeId });
  const rows = read.slice(0, limit);
  return { rows, names: await auditNames(db, rows), nextCursor: read.length > limit ? rows.at(-1)!.id : null };
}
