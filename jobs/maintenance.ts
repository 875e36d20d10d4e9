import type { Db } from '../server/db/client';
import { ensureRequestLogPartitions } from '../server/db/partitions';
import type { QueuePayload } from '../server/queues';
import { deleteExpiredSessions } from '../server/security/sessions';

/** Housekeeping that keeps tables healthy: request_logs partitions ahead of time, expired sessions gone. */
export async function runMaintenance(db: Db, payload: QueuePayload<'maintenance'>): Promise<{ removed?: number }> {
  if (payload.task === 'partitions') {
    await ensureRequestLogPartitions(db);
    return {};
  }
  return { removed: await deleteExpiredSessions(db) };
}
