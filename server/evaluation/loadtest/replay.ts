import { and, asc, eq, gte, isNotNull } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { requestLogs } from '../../db/schema';
import type { ReplayEntry } from './workload';

/**
 * Recorded traffic shapes of one model: prompt and completion token counts of successful requests and
 * their arrival gaps. Only counts and times are read; request_logs hold no content anyway.
 */
export async function loadReplay(db: Db, model: string, hours: number, limit: number): Promise<ReplayEntry[]> {
  const since = new Date(Date.now() - hours * 3_600_000);
  const rows = await db
    .select({ at: requestLogs.createdAt, input: requestLogs.promptTokens, output: requestLogs.completionTokens })
    .from(requestLogs)
    .where(and(eq(requestLogs.model, model), eq(requestLogs.status, 200), gte(requestLogs.createdAt, since), isNotNull(requestLogs.completionTokens)))
    .orderBy(asc(requestLogs.createdAt))
    .limit(limit);
  if (rows.length === 0) return [];
  const t0 = rows[0]!.at.getTime();
  return rows.map((r) => ({ inputTokens: Math.max(1, r.input ?? 1), outputTokens: Math.max(1, r.output ?? 1), atMs: r.at.getTime() - t0 }));
}
