import { and, asc, eq, inArray, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { DomainError } from '../../core/errors';
import { errorMessage, log } from '../../core/log';
import { redis } from '../../core/redis';
import { apiKeys, deploymentPrices, deployments, groups, quotas, users } from '../../db/schema';
import { loadQuotaRows, readUsage, subjectsFor } from '../../gateway/quotas';
import { announceCredentialChange } from '../../security/credential-events';
import { groupIdsOf } from '../../security/groups/membership';
import { authedProcedure, roleProcedure, router } from '../trpc';

const admin = roleProcedure('admin');
const limit = (max: number) => z.number().int().min(1).max(max).nullable();
const limits = {
  requestsPerMinute: limit(10_000_000),
  tokensPerDay: limit(Number.MAX_SAFE_INTEGER),
  tokensPerMonth: limit(Number.MAX_SAFE_INTEGER),
  maxConcurrent: limit(100_000),
};
const price = z.number().min(0).max(1_000_000);

/**
 * Quotas and rate limits (enforced by the gateway, server/gateway/quotas.ts): defaults for every user and
 * every key, overrides for one user or one key, and per-deployment prices so usage shows cost. Admins set
 * them; everyone reads their own (the chat's meter). Every change is audited by the mutation guard.
 */
export const quotasRouter = router({
  /**
   * The limits the caller's browser chat is held to (their own, and each of their groups' shared pools),
   * and what was used of each in its window.
   */
  mine: authedProcedure.query(async ({ ctx }) => {
    const rows = await loadQuotaRows(ctx.db);
    const subjects = subjectsFor(rows, { keyId: null, userId: ctx.user.id, groups: await groupIdsOf(ctx.db, ctx.user.id) });
    const names = new Map<string, string>();
    const groupIds = subjects.filter((s) => s.kind === 'group').map((s) => s.id);
    if (groupIds.length) for (const g of await ctx.db.select({ id: groups.id, name: groups.name }).from(groups).where(inArray(groups.id, groupIds))) names.set(g.id, g.name);
    return {
      subjects: await Promise.all(
        subjects.map(async (s) => {
          let usage: Awaited<ReturnType<typeof readUsage>> | null = null;
          try {
            usage = await readUsage(redis(), ctx.env.REDIS_PREFIX, s);
          } catch (err) {
            log.warn('quotas: reading usage failed', { error: errorMessage(err) });
          }
          return { kind: s.kind, group: s.kind === 'group' ? (names.get(s.id) ?? s.id) : null, limits: s.limits, usage };
        }),
      ),
    };
  }),

  /** Every quota row, named (user email, key name and owner), the keys and deployments to choose from, and prices. */
  list: admin.query(async ({ ctx }) => {
    const [rows, keys, deps, prices, groupRows] = await Promise.all([
      ctx.db.select().from(quotas).orderBy(asc(quotas.subjectKind), asc(quotas.updatedAt)),
      ctx.db
        .select({ id: apiKeys.id, name: apiKeys.name, prefix: apiKeys.prefix, owner: users.email })
        .from(apiKeys)
        .innerJoin(users, eq(users.id, apiKeys.userId))
        .where(isNull(apiKeys.revokedAt))
        .orderBy(asc(users.email), asc(apiKeys.name))
        .limit(2_000),
      ctx.db.select({ id: deployments.id, name: deployments.name }).from(deployments).orderBy(asc(deployments.name)),
      ctx.db.select().from(deploymentPrices),
      ctx.db.select({ id: groups.id, name: groups.name }).from(groups).orderBy(asc(groups.name)),
    ]);
    const groupNames = new Map(groupRows.map((g) => [g.id, g.name]));
    const userIds = rows.filter((r) => r.subjectKind === 'user').map((r) => r.subjectId!);
    const emails = new Map<string, string>();
    for (const id of userIds) {
      const [u] = await ctx.db.select({ email: users.email }).from(users).where(eq(users.id, id)).limit(1);
      if (u) emails.set(id, u.email);
    }
    const keyLabels = new Map(keys.map((k) => [k.id, `${k.name} (${k.prefix}…, ${k.owner})`]));
    return {
      quotas: rows.map((r) => ({
        id: r.id,
        subjectKind: r.subjectKind,
        subjectId: r.subjectId,
        label:
          r.subjectKind === 'user'
            ? (emails.get(r.subjectId!) ?? r.subjectId!)
            : r.subjectKind === 'key'
              ? (keyLabels.get(r.subjectId!) ?? r.subjectId!)
              : r.subjectKind === 'group'
                ? (groupNames.get(r.subjectId!) ?? r.subjectId!)
                : r.subjectKind,
        requestsPerMinute: r.requestsPerMinute,
        tokensPerDay: r.tokensPerDay,
        tokensPerMonth: r.tokensPerMonth,
        maxConcurrent: r.maxConcurrent,
        updatedAt: r.updatedAt,
      })),
      keys: keys.map((k) => ({ id: k.id, label: keyLabels.get(k.id)! })),
      groups: groupRows.map((g) => ({ id: g.id, label: g.name })),
      deployments: deps,
      prices: prices.map((p) => ({
        deploymentId: p.deploymentId,
        promptPerMillion: Number(p.promptPerMillion),
        completionPerMillion: Number(p.completionPerMillion),
        currency: p.currency,
      })),
    };
  }),

  /** Sets the default for users or keys, or one user's or key's override (whole: a null limit there means none). */
  set: admin
    .input(
      z.strictObject({
        subjectKind: z.enum(['default_user', 'default_key', 'user', 'key', 'group']),
        subjectId: z.uuid().optional(),
        ...limits,
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { subjectKind, subjectId, ...values } = input;
      const isDefault = subjectKind === 'default_user' || subjectKind === 'default_key';
      if (isDefault && subjectId) throw new DomainError('BAD_REQUEST', 'subjectId: a default applies to everyone and names no one');
      if (!isDefault && !subjectId) throw new DomainError('BAD_REQUEST', `subjectId: required for a ${subjectKind} override`);
      if (subjectKind === 'user') {
        const [u] = await ctx.db.select({ id: users.id }).from(users).where(eq(users.id, subjectId!)).limit(1);
        if (!u) throw new DomainError('NOT_FOUND', 'subjectId: no such user');
      }
      if (subjectKind === 'key') {
        const [k] = await ctx.db.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.id, subjectId!)).limit(1);
        if (!k) throw new DomainError('NOT_FOUND', 'subjectId: no such API key');
      }
      if (subjectKind === 'group') {
        const [g] = await ctx.db.select({ id: groups.id }).from(groups).where(eq(groups.id, subjectId!)).limit(1);
        if (!g) throw new DomainError('NOT_FOUND', 'subjectId: no such group');
      }
      const [row] = await ctx.db
        .insert(quotas)
        .values({ subjectKind, subjectId: subjectId ?? null, ...values })
        .onConflictDoUpdate({ target: [quotas.subjectKind, quotas.subjectId], set: { ...values, updatedAt: new Date() } })
        .returning({ id: quotas.id });
      await announceCredentialChange({ quotas: true });
      return { id: row!.id };
    }),

  remove: admin.input(z.strictObject({ id: z.uuid() })).mutation(async ({ ctx, input }) => {
    const gone = await ctx.db.delete(quotas).where(eq(quotas.id, input.id)).returning({ id: quotas.id });
    if (gone.length === 0) throw new DomainError('NOT_FOUND', 'No such quota');
    await announceCredentialChange({ quotas: true });
    return { id: input.id };
  }),

  /** A deployment's price per million prompt and completion tokens, so usage shows cost. */
  setPrice: admin
    .input(
      z.strictObject({
        deploymentId: z.uuid(),
        promptPerMillion: price,
        completionPerMillion: price,
        currency: z.string().regex(/^[A-Z]{3}$/, 'a three-letter currency code (USD, EUR, CNY)').default('USD'),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const [dep] = await ctx.db.select({ id: deployments.id }).from(deployments).where(eq(deployments.id, input.deploymentId)).limit(1);
      if (!dep) throw new DomainError('NOT_FOUND', 'deploymentId: no such deployment');
      const { deploymentId, ...values } = input;
      await ctx.db
        .insert(deploymentPrices)
        .values(input)
        .onConflictDoUpdate({ target: deploymentPrices.deploymentId, set: { ...values, updatedAt: new Date() } });
      await announceCredentialChange({ quotas: true });
      return { id: deploymentId };
    }),

  removePrice: admin.input(z.strictObject({ deploymentId: z.uuid() })).mutation(async ({ ctx, input }) => {
    const gone = await ctx.db
      .delete(deploymentPrices)
      .where(and(eq(deploymentPrices.deploymentId, input.deploymentId)))
      .returning({ id: deploymentPrices.deploymentId });
    if (gone.length === 0) throw new DomainError('NOT_FOUND', 'No price for this deployment');
    await announceCredentialChange({ quotas: true });
    return { id: input.deploymentId };
  }),
});
