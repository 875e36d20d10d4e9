import { desc, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { alertRules, alerts } from '../../db/schema';

const RECENT_LIMIT = 50;

/** What the alerts page shows: everything open (firing first), then the most recently resolved. */
export async function listAlerts(db: Db) {
  const columns = {
    id: alerts.id,
    ruleId: alerts.ruleId,
    ruleName: alertRules.name,
    kind: alertRules.kind,
    severity: alertRules.severity,
    subject: alerts.subject,
    status: alerts.status,
    value: alerts.value,
    message: alerts.message,
    pendingSince: alerts.pendingSince,
    firedAt: alerts.firedAt,
    resolvedAt: alerts.resolvedAt,
    notifiedAt: alerts.notifiedAt,
  };
  const open = await db
    .select(columns)
    .from(alerts)
    .innerJoin(alertRules, eq(alertRules.id, alerts.ruleId))
    .where(inArray(alerts.status, ['firing', 'pending']))
    .orderBy(sql`${alerts.status} = 'pending'`, desc(alerts.firedAt), desc(alerts.pendingSince));
  const recent = await db
    .select(columns)
    .from(alerts)
    .innerJoin(alertRules, eq(alertRules.id, alerts.ruleId))
    .where(isNotNull(alerts.resolvedAt))
    .orderBy(desc(alerts.resolvedAt))
    .limit(RECENT_LIMIT);
  return { firing: open.filter((a) => a.status === 'firing'), pending: open.filter((a) => a.status === 'pending'), recent };
}

/** For a nav badge: how many alerts are firing right now. */
export async function firingCount(db: Db): Promise<number> {
  const [{ n }] = (await db.select({ n: sql<number>`count(*)::int` }).from(alerts).where(eq(alerts.status, 'firing'))) as [{ n: number }];
  return n;
}
