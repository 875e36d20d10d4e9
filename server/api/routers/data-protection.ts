import { asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { DomainError } from '../../core/errors';
import { deploymentDataPolicies, deployments, findingLevels, piiRules, REDACTION_MODES } from '../../db/schema';
import { announceCredentialChange } from '../../security/credential-events';
import { countFindings, findSensitive, BUILT_IN_FINDING_TYPES } from '../../security/pii/detect';
import { RuleError, vetRule } from '../../security/pii/rules';
import { DEFAULT_FINDING_LEVELS, defaultPolicy, levelNames, levelOfFindings, loadProtectionSettings } from '../../security/classification';
import { roleProcedure, router } from '../trpc';

const admin = roleProcedure('admin');
const level = z.number({ error: 'level must be a number from 0 to 3' }).int().min(0, 'level must be from 0 to 3').max(3, 'level must be from 0 to 3');
const ruleInput = z.object({
  id: z.string().uuid('id must be a uuid').optional(),
  name: z.string().max(40, 'name: at most 40 characters'),
  kind: z.enum(['regex', 'keywords'], { error: 'kind must be regex or keywords' }),
  pattern: z.string().max(60_000, 'pattern: at most 60000 characters'),
  level,
  enabled: z.boolean().default(true),
});

/** Every gateway reloads data-protection settings at once (they listen for route changes). */
const announce = () => announceCredentialChange({ routes: true });

/**
 * /admin/data-protection: custom detector rules, the finding type → level mapping, and each deployment's
 * highest level and redaction mode. Admins only; each change is audited by the mutation guard (pattern and
 * keyword text are configuration, kept in the row; the test box's text is never kept anywhere).
 */
export const dataProtectionRouter = router({
  settings: admin.query(async ({ ctx }) => {
    const [rules, overrides, deps, policies] = await Promise.all([
      ctx.db.select().from(piiRules).orderBy(asc(piiRules.name)),
      ctx.db.select().from(findingLevels),
      ctx.db.select({ id: deployments.id, name: deployments.name, engine: deployments.engine, status: deployments.status }).from(deployments).orderBy(asc(deployments.name)),
      ctx.db.select().from(deploymentDataPolicies),
    ]);
    const overridden = new Map(overrides.map((o) => [o.findingType, o.level]));
    const byDeployment = new Map(policies.map((p) => [p.deploymentId, p]));
    return {
      levels: levelNames(),
      rules: rules.map((r) => ({ id: r.id, name: r.name, kind: r.kind, pattern: r.pattern, level: r.level, enabled: r.enabled, updatedAt: r.updatedAt })),
      findingLevels: BUILT_IN_FINDING_TYPES.map((type) => ({ type, level: overridden.get(type) ?? DEFAULT_FINDING_LEVELS[type], defaultLevel: DEFAULT_FINDING_LEVELS[type] })),
      deployments: deps.map((d) => {
        const row = byDeployment.get(d.id);
        const fallback = defaultPolicy(d.engine === 'upstream');
        return { id: d.id, name: d.name, engine: d.engine, status: d.status, maxLevel: row?.maxLevel ?? fallback.maxLevel, mode: row?.mode ?? fallback.mode, isDefault: !row };
      }),
    };
  }),

  saveRule: admin.input(ruleInput).mutation(async ({ ctx, input }) => {
    try {
      vetRule({ name: input.name, kind: input.kind, pattern: input.pattern });
    } catch (e) {
      if (e instanceof RuleError) throw new DomainError('BAD_REQUEST', e.message);
      throw e;
    }
    const values = { name: input.name, kind: input.kind, pattern: input.pattern, level: input.level, enabled: input.enabled, updatedAt: new Date() };
    const clash = await ctx.db.select({ id: piiRules.id }).from(piiRules).where(eq(piiRules.name, input.name));
    if (clash[0] && clash[0].id !== input.id) throw new DomainError('CONFLICT', `name: a rule named '${input.name}' exists`);
    let id = input.id;
    if (id) {
      const [row] = await ctx.db.update(piiRules).set(values).where(eq(piiRules.id, id)).returning({ id: piiRules.id });
      if (!row) throw new DomainError('NOT_FOUND', 'Rule not found');
    } else [{ id }] = await ctx.db.insert(piiRules).values({ ...values, createdBy: ctx.user.id }).returning({ id: piiRules.id });
    await announce();
    return { id: id! };
  }),

  deleteRule: admin.input(z.object({ id: z.string().uuid('id must be a uuid') })).mutation(async ({ ctx, input }) => {
    const [row] = await ctx.db.delete(piiRules).where(eq(piiRules.id, input.id)).returning({ id: piiRules.id });
    if (!row) throw new DomainError('NOT_FOUND', 'Rule not found');
    await announce();
    return { ok: true };
  }),

  setFindingLevel: admin
    .input(z.object({ findingType: z.enum(BUILT_IN_FINDING_TYPES as unknown as [string, ...string[]], { error: `findingType must be one of ${BUILT_IN_FINDING_TYPES.join(', ')}` }), level }))
    .mutation(async ({ ctx, input }) => {
      await ctx.db
        .insert(findingLevels)
        .values({ findingType: input.findingType, level: input.level })
        .onConflictDoUpdate({ target: findingLevels.findingType, set: { level: input.level, updatedAt: new Date() } });
      await announce();
      return { ok: true };
    }),

  setDeploymentPolicy: admin
    .input(z.object({ deploymentId: z.string().uuid('deploymentId must be a uuid'), maxLevel: level, mode: z.enum(REDACTION_MODES, { error: 'mode must be block, mask or allow' }) }))
    .mutation(async ({ ctx, input }) => {
      const [dep] = await ctx.db.select({ id: deployments.id }).from(deployments).where(eq(deployments.id, input.deploymentId));
      if (!dep) throw new DomainError('NOT_FOUND', 'Deployment not found');
      await ctx.db
        .insert(deploymentDataPolicies)
        .values({ deploymentId: input.deploymentId, maxLevel: input.maxLevel, mode: input.mode })
        .onConflictDoUpdate({ target: deploymentDataPolicies.deploymentId, set: { maxLevel: input.maxLevel, mode: input.mode, updatedAt: new Date() } });
      await announce();
      return { ok: true };
    }),

  /**
   * "Test this text": the finding types and counts the current rules give, and the level they imply.
   * A mutation so the text travels in a POST body (never a URL an access log could keep); its audit row
   * drops the text, and nothing else keeps it.
   */
  test: admin.input(z.object({ text: z.string().max(100_000, 'text: at most 100000 characters') })).mutation(async ({ ctx, input }) => {
    const settings = await loadProtectionSettings(ctx.db);
    const counts = countFindings(findSensitive(input.text, settings.rules));
    return { counts, level: levelOfFindings(counts, settings.levels) };
  }),
});
