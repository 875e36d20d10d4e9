import { and, eq, isNull, lt, or } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { gpuNodes } from '../../db/schema';

/** Three missed heartbeats at the agent's 5 s interval, plus slack for a busy database. */
export const DEFAULT_SILENT_AFTER_MS = 30_000;

/**
 * Marks healthy nodes whose heartbeats stopped as unhealthy, so the planner places nothing new on them.
 * Returns the names it marked. A heartbeat makes the node healthy again (see recordHeartbeat).
 */
export async function sweepNodes(db: Db, opts: { silentAfterMs?: number; now?: Date } = {}): Promise<string[]> {
  const cutoff = new Date((opts.now ?? new Date()).getTime() - (opts.silentAfterMs ?? DEFAULT_SILENT_AFTER_MS));
  const marked = await db
    .update(gpuNodes)
    .set({ status: 'unhealthy' })
    .where(and(eq(gpuNodes.status, 'healthy'), or(isNull(gpuNodes.lastHeartbeatAt), lt(gpuNodes.lastHeartbeatAt, cutoff))))
    .returning({ name: gpuNodes.name });
  return marked.map((n) => n.name);
}
