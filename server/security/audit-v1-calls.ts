import { sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { auditV1Hours } from '../db/schema';
import { writeAudit } from './audit';

const HOUR_MS = 3_600_000;
/** An hour is summed once it ended this long ago: the gateways flush request logs in batches. */
const LATE_ROWS_MS = 10 * 60_000;
/** How far back a first run reaches (an install upgraded with months of request logs writes two days, not thousands of hours). */
const FIRST_RUN_HOURS = 48;
/** The most hours one run writes (a worker that was down catches up over a few runs). */
const MAX_HOURS_PER_RUN = 72;

export const V1_CALLS = 'gateway.v1_calls';

/**
 * The audit record of `/v1` calls: one chained row per API key per hour that used it, with the counts
 * by status class, the models and the tokens, never a prompt or a reply. Per call would put the audit
 * chain's lock on the gateway's hot path and grow the chain by every request; request_logs keeps each
 * call's metadata, and this summary makes who used which key, when and for what tamper-evident.
 * Calls from the web chat (no key) are audited per message as chat.send already.
 */
export async function auditV1Calls(db: Db, now = new Date()): Promise<{ hours: string[]; rows: number }> {
  const lastDone = Math.floor((now.getTime() - LATE_ROWS_MS) / HOUR_MS) * HOUR_MS - HOUR_MS;
  const last = await db.execute<{ hour: Date | string | null }>(sql`SELECT max(hour) AS hour FROM audit_v1_hours`);
  const lastWritten = last.rows[0]?.hour;
  let hour = lastWritten ? new Date(lastWritten).getTime() + HOUR_MS : lastDone - (FIRST_RUN_HOURS - 1) * HOUR_MS;
  const hours: string[] = [];
  let rows = 0;
  for (let n = 0; hour <= lastDone && n < MAX_HOURS_PER_RUN; hour += HOUR_MS, n++) {
    rows += await auditHour(db, new Date(hour));
    hours.push(new Date(hour).toISOString());
  }
  return { hours, rows };
}

type KeyHour = {
  api_key_id: string;
  user_id: string | null;
  key_name: string | null;
  requests: number;
  errors: number;
  s2xx: number;
  s4xx: number;
  s5xx: number;
  models: string[];
  prompt_tokens: string;
  completion_tokens: string;
};

/** One hour, in one transaction with its marker: written wholly or not at all, and never twice. */
async function auditHour(db: Db, hour: Date): Promise<number> {
  const end = new Date(hour.getTime() + HOUR_MS);
  return db.transaction(async (tx) => {
    const claimed = await tx.insert(auditV1Hours).values({ hour, keys: 0 }).onConflictDoNothing().returning({ hour: auditV1Hours.hour });
    if (!claimed.length) return 0;
    const res = await tx.execute<KeyHour>(sql`
      SELECT r.api_key_id, min(r.user_id::text) AS user_id, min(k.name) AS key_name, count(*)::int AS requests,
        count(*) FILTER (WHERE r.status >= 400)::int AS errors,
        count(*) FILTER (WHERE r.status < 300)::int AS s2xx,
        count(*) FILTER (WHERE r.status >= 400 AND r.status < 500)::int AS s4xx,
        count(*) FILTER (WHERE r.status >= 500)::int AS s5xx,
        array_agg(DISTINCT r.model ORDER BY r.model) AS models,
        coalesce(sum(r.prompt_tokens), 0)::text AS prompt_tokens, coalesce(sum(r.completion_tokens), 0)::text AS completion_tokens
      FROM request_logs r LEFT JOIN api_keys k ON k.id = r.api_key_id
      WHERE r.created_at >= ${hour.toISOString()}::timestamptz AND r.created_at < ${end.toISOString()}::timestamptz AND r.api_key_id IS NOT NULL
      GROUP BY r.api_key_id ORDER BY r.api_key_id`);
    for (const k of res.rows) {
      await writeAudit(tx, {
        actorUserId: k.user_id,
        actorLabel: k.key_name,
        action: V1_CALLS,
        target: k.api_key_id,
        outcome: k.errors === k.requests ? 'failure' : 'success',
        detail: {
          hour: hour.toISOString(),
          requests: k.requests,
          errors: k.errors,
          status: { '2xx': k.s2xx, '4xx': k.s4xx, '5xx': k.s5xx },
          models: k.models.slice(0, 20),
          promptTokens: Number(k.prompt_tokens),
          completionTokens: Number(k.completion_tokens),
        },
      });
    }
    await tx.update(auditV1Hours).set({ keys: res.rows.length }).where(sql`${auditV1Hours.hour} = ${hour.toISOString()}::timestamptz`);
    return res.rows.length;
  });
}
