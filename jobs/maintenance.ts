import { lt } from 'drizzle-orm';
import type { Db } from '../server/db/client';
import { ensureRequestLogPartitions } from '../server/db/partitions';
import { sessions } from '../server/db/schema';
import type { QueuePayload } from '../server/queues';

/** Housekeeping that keeps tables healthy: request_logs partitions ahead of time, expired sessions gone. */
export async function runMaintenance(db: Db, payload: QueuePayload<'maintenance'>): Promise<{ removed?: number }> {
  if (payload.task === 'partitions') {
    await ensureRequestLogPartitions(db);
    return {};
  }
  const removed = await db.delete(sessions).where(lt(sessions.expiresAt, new Date())).returning({ t: sessions.tokenHash });
  return { removed: removed.length };
}
