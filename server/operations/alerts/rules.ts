import { writeAudit } from '../../security/audit';
import { asc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../../db/client';
import { alertRules } from '../../db/schema';
import { DomainError } from '../../core/errors';
import { ALERT_KINDS, DEFAULT_RULES, KIND_INFO } from './kinds';
import type { RuleView } from './types';

const scopeSchema = z
  .object({
    node: z.string().trim().max(200).optional(),
    gpu: z.string().regex(/^\d{1,4}$/, 'a GPU index').optional(),
    deployment: z.string().trim().max(200).optional(),
  })
  .strict();

export const ruleInput = z.object({
  name: z.string().trim().min(1).max(120),
  kind: z.enum(ALERT_KINDS),
  threshold: z.number().finite().min(0).max(1_000_000),
  durationSeconds: z.number().int().min(0).max(7 * 86_400),
  severity: z.enum(['warning', 'critical']).default('warning'),
  scope: scopeSchema.default({}),
  enabled: z.boolean().default(true),
});
export const ruleUpdate = ruleInput.partial().extend({ id: z.string().uuid() });

/** Percentages above 100 can never fire, and a window of 0 s measures nothing: said up front, not discovered later. */
function checkSense(kind: (typeof ALERT_KINDS)[number], threshold: number, durationSeconds: number) {
  if (KIND_INFO[kind].unit === '%' && threshold > 100) throw new DomainError('BAD_REQUEST', 'threshold: a percentage must be between 0 and 100');
  if (KIND_INFO[kind].duration === 'window' && durationSeconds < 60) throw new DomainError('BAD_REQUEST', 'durationSeconds: this rule measures over a window of at least 60 s');
}

const toView = (r: typeof alertRules.$inferSelect): RuleView & { enabled: boolean; createdAt: Date } => ({
  id: r.id,
  name: r.name,
  kind: r.kind,
  threshold: r.threshold,
  durationSeconds: r.durationSeconds,
  severity: r.severity,
  scope: r.scope ?? {},
  enabled: r.enabled,
  createdAt: r.createdAt,
});

export async function listRules(db: Db) {
  await ensureDefaultRules(db);
  return (await db.select().from(alertRules).orderBy(asc(alertRules.createdAt), asc(alertRules.name))).map(toView);
}

export async function createRule(db: Db, raw: z.input<typeof ruleInput>, userId: string) {
  const input = ruleInput.parse(raw);
  checkSense(input.kind, input.threshold, input.durationSeconds);
  const [row] = await db.insert(alertRules).values({ ...input, createdBy: userId }).returning();
  return toView(row!);
}

export async function updateRule(db: Db, raw: z.input<typeof ruleUpdate>) {
  const { id, ...patch } = ruleUpdate.parse(raw);
  const [current] = await db.select().from(alertRules).where(eq(alertRules.id, id));
  if (!current) throw new DomainError('NOT_FOUND', 'No alert rule with this id');
  checkSense(patch.kind ?? current.kind, patch.threshold ?? current.threshold, patch.durationSeconds ?? current.durationSeconds);
  const [row] = await db.update(alertRules).set(patch).where(eq(alertRules.id, id)).returning();
  return toView(row!);
}

export async function deleteRule(db: Db, id: string) {
  const deleted = await db.delete(alertRules).where(eq(alertRules.id, z.string().uuid().parse(id))).returning({ id: alertRules.id });
  if (!deleted.length) throw new DomainError('NOT_FOUND', 'No alert rule with this id');
  return { id };
}

/**
 * Seeds DEFAULT_RULES when the table is empty. The advisory lock keeps two workers (or a worker and a
 * page load) from seeding twice. Deleting every rule brings the defaults back: disable rules instead.
 * Like every change, the seeding commits with its audit row (by the system, not whoever looked).
 */
export async function ensureDefaultRules(db: Db): Promise<void> {
  const [{ n }] = (await db.select({ n: sql<number>`count(*)::int` }).from(alertRules)) as [{ n: number }];
  if (n > 0) return;
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext('enclave.alert_rules.seed'))`);
    const [{ m }] = (await tx.select({ m: sql<number>`count(*)::int` }).from(alertRules)) as [{ m: number }];
    if (m === 0) {
      await tx.insert(alertRules).values(DEFAULT_RULES.map((r) => ({ ...r, scope: {} })));
      await writeAudit(tx, { actorLabel: 'system', action: 'monitoring.seedDefaultRules', outcome: 'success', detail: { rules: DEFAULT_RULES.length } });
    }
  });
}

export async function enabledRules(db: Db): Promise<RuleView[]> {
  return (await db.select().from(alertRules).where(eq(alertRules.enabled, true))).map(toView);
}
