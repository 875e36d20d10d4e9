import type { Db } from '../server/db/client';
import { ensureRequestLogPartitions } from '../server/db/partitions';
import type { QueuePayload } from '../server/queues';
import { deleteExpiredSessions } from '../server/security/sessions';
import { sweepNodes } from '../server/gpu/nodes/sweep';
import { evaluateAlerts } from '../server/operations/alerts/evaluate';
import { thinGpuSamples } from '../server/gpu/telemetry/retention';
import { sweepAbandonedLoadTests } from '../server/evaluation/loadtest/store';

/** Housekeeping: request_logs partitions ahead of time, expired sessions gone, silent GPU nodes marked unhealthy, alert rules evaluated. */
export async function runMaintenance(
  db: Db,
  payload: QueuePayload<'maintenance'>,
  opts: { masterKey?: Buffer } = {},
): Promise<{ removed?: number; unhealthy?: string[]; abandonedLoadTests?: string[]; firing?: number }> {
  // The master key opens the sealed webhook URLs alerts are posted to.
  if (payload.task === 'alerts') return evaluateAlerts(db, { masterKey: opts.masterKey });
  // Every 15 s: silent nodes, and load tests whose worker died mid-run.
  if (payload.task === 'nodes') return { unhealthy: await sweepNodes(db), abandonedLoadTests: await sweepAbandonedLoadTests(db) };
  if (payload.task === 'partitions') {
    await ensureRequestLogPartitions(db);
    // Daily too: GPU samples past a week are thinned to 4-minute rows, past 30 days deleted.
    await thinGpuSamples(db);
    return {};
  }
  return { removed: await deleteExpiredSessions(db) };
}
