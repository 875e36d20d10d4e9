import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { alerts } from '../../db/schema';
import { KIND_INFO } from './kinds';
import type { Observation, RuleView } from './types';

export interface Transitions {
  pending: number;
  fired: number;
  resolved: number;
}

/**
 * Moves one rule's alerts along pending → firing → resolved, one open row per (rule, subject) (the
 * partial unique index makes a concurrent second evaluation's insert a no-op rather than a duplicate).
 * - a subject whose condition holds gets a row: firing at once when it has held for the rule's duration
 *   (or the kind measures a window), pending otherwise, with pending_since when the run began;
 * - a pending row fires once now - pending_since reaches the duration;
 * - an open row whose subject no longer holds is resolved when it had fired; a pending one is dropped,
 *   as Prometheus does, since nobody was told about it.
 */
export async function applyObservations(db: Db, rule: RuleView, observations: Observation[], now: Date): Promise<Transitions> {
  const counts: Transitions = { pending: 0, fired: 0, resolved: 0 };
  const open = await db.select().from(alerts).where(and(eq(alerts.ruleId, rule.id), isNull(alerts.resolvedAt)));
  const due = (since: number) => KIND_INFO[rule.kind].duration === 'window' || now.getTime() - since >= rule.durationSeconds * 1000;
  const seen = new Set<string>();

  for (const o of observations) {
    seen.add(o.subject);
    const existing = open.find((a) => a.subject === o.subject);
    if (!existing) {
      const firing = due(o.since);
      const inserted = await db
        .insert(alerts)
        .values({
          ruleId: rule.id,
          subject: o.subject,
          status: firing ? 'firing' : 'pending',
          value: o.value,
          message: o.message,
          pendingSince: new Date(Math.min(o.since, now.getTime())),
          firedAt: firing ? now : null,
        })
        .onConflictDoNothing()
        .returning({ id: alerts.id });
      if (inserted.length) counts[firing ? 'fired' : 'pending']++;
      continue;
    }
    const fires = existing.status === 'pending' && due(existing.pendingSince.getTime());
    await db
      .update(alerts)
      .set({ value: o.value, message: o.message, ...(fires ? { status: 'firing' as const, firedAt: now } : {}) })
      .where(eq(alerts.id, existing.id));
    if (fires) counts.fired++;
  }

  for (const a of open) {
    if (seen.has(a.subject)) continue;
    if (a.status === 'firing') {
      await db.update(alerts).set({ status: 'resolved', resolvedAt: now }).where(eq(alerts.id, a.id));
      counts.resolved++;
    } else {
      await db.delete(alerts).where(eq(alerts.id, a.id));
    }
  }
  return counts;
}
