import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { alertRules, alerts } from '../../db/schema';
import { deliverNotifications } from './deliver';
import { evaluateRule } from './evaluators';
import { loadAlertInputs } from './inputs';
import { ensureDefaultRules, enabledRules } from './rules';
import { applyObservations } from './state';

export interface EvaluateOptions {
  /** Opens sealed webhook URLs; without it alerts are still evaluated but nothing is posted. */
  masterKey?: Buffer;
  now?: Date;
}

/** Evaluates every enabled alert rule once: opens, fires, resolves alerts and posts webhooks. */
export async function evaluateAlerts(db: Db, opts: EvaluateOptions = {}): Promise<{ firing: number; fired: number; resolved: number }> {
  const now = opts.now ?? new Date();
  await ensureDefaultRules(db);
  const rules = await enabledRules(db);
  const inputs = await loadAlertInputs(db, rules, now);
  let fired = 0;
  let resolved = 0;
  for (const rule of rules) {
    const t = await applyObservations(db, rule, evaluateRule(rule, inputs), now);
    fired += t.fired;
    resolved += t.resolved;
  }
  resolved += await closeDisabledRules(db, now);
  if (opts.masterKey) await deliverNotifications(db, opts.masterKey, now);
  const [{ n }] = (await db.select({ n: sql<number>`count(*)::int` }).from(alerts).where(eq(alerts.status, 'firing'))) as [{ n: number }];
  return { firing: n, fired, resolved };
}

/** A rule switched off stops watching: its firing alerts resolve (and say so), its pending ones go. */
async function closeDisabledRules(db: Db, now: Date): Promise<number> {
  const off = sql`${alerts.ruleId} in (select ${alertRules.id} from ${alertRules} where ${alertRules.enabled} = false)`;
  await db.delete(alerts).where(and(eq(alerts.status, 'pending'), off));
  const closed = await db
    .update(alerts)
    .set({ status: 'resolved', resolvedAt: now })
    .where(and(eq(alerts.status, 'firing'), isNull(alerts.resolvedAt), off))
    .returning({ id: alerts.id });
  return closed.length;
}
