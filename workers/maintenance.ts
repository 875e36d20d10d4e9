import type { Db } from '../server/db/client';
import { ensureRequestLogPartitions } from '../server/db/partitions';
import { env } from '../server/core/env';
import { defineConsumer, type QueuePayload } from '../server/core/queues';
import { deleteExpiredSessions } from '../server/security/sessions';
import { sweepNodes } from '../server/fleet/nodes/sweep';
import { evaluateAlerts } from '../server/operations/alerts/evaluate';
import { thinGpuSamples } from '../server/gpu/telemetry/retention';
import { sweepAbandonedLoadTests } from '../server/evaluation/loadtest/store';
import { requeueSilentLoadTests } from '../server/evaluation/loadtest/takeover';
import { sweepInterruptedReplies } from '../server/chat/interrupted-replies';
import { sweepStalledDocuments, type StalledSweep } from '../server/knowledge/stalled';
import { auditAnchors, checkpointAuditLog, type AuditAnchors, type CheckpointResult } from '../server/security/audit-anchor';
import { ldapSettings, ldapSettingsFrom, type LdapSettings } from '../server/security/ldap/config';
import { syncLdapAccounts, type LdapSyncResult } from '../server/security/ldap/sync';
import { rollUpUsage, type RollupResult } from '../server/operations/usage/rollup';
import { runAuditUpkeep, type AuditUpkeepResult } from '../server/security/audit-upkeep';
import { applyRetention, type RetentionResult } from '../server/operations/retention/apply';
import { resealUnderOwnerKeys, type ResealResult } from '../server/operations/retention/reseal';
import { backupAndPrune, type BackupRun } from '../server/operations/backup/scheduled';
import { singleFlight } from '../server/db/single-flight';

type MaintenanceOptions = { masterKey?: Buffer; anchors?: AuditAnchors; ldap?: LdapSettings | null; dataDir?: string };
type MaintenanceResult = { removed?: number; unhealthy?: string[]; abandonedLoadTests?: string[]; requeuedLoadTests?: string[]; interruptedReplies?: string[]; stalledDocuments?: StalledSweep; firing?: number; checkpoint?: CheckpointResult; ldap?: LdapSyncResult; usage?: RollupResult; retention?: RetentionResult; resealed?: ResealResult; backup?: BackupRun; audit?: AuditUpkeepResult };

/**
 * One maintenance task, at most once at a time across every worker sharing the database: a run that
 * finds the same task still running elsewhere (a slow tick overlapping the next, a stalled job delivered
 * again) steps aside with `skipped: 'busy'` instead of evaluating alerts, posting webhooks or taking a
 * backup a second time.
 */
export async function runMaintenance(db: Db, payload: QueuePayload<'maintenance'>, opts: MaintenanceOptions = {}): Promise<MaintenanceResult & { skipped?: 'busy' }> {
  const result = await singleFlight(db, `enclave.maintenance:${payload.task}`, () => runTask(db, payload, opts));
  return result === 'busy' ? { skipped: 'busy' } : result;
}

/** Housekeeping: request_logs partitions ahead of time, expired sessions gone, silent GPU nodes marked unhealthy, alert rules evaluated, the audit chain's head checkpointed. */
async function runTask(db: Db, payload: QueuePayload<'maintenance'>, opts: MaintenanceOptions): Promise<MaintenanceResult> {
  // Hourly: content sealed before per-person keys moves under its owner's key (a bounded, resumable step),
  // then what is past its level's retention is deleted, in batches, audited as counts.
  if (payload.task === 'retention') {
    const dataDir = opts.dataDir ?? env().dataDir;
    const resealed = opts.masterKey ? await resealUnderOwnerKeys(db, opts.masterKey, { dataDir }) : undefined;
    return { resealed, retention: await applyRetention(db, { dataDir }) };
  }
  // Daily: a backup (ENCLAVE_BACKUP_DIR), the oldest past ENCLAVE_BACKUP_KEEP removed; audited either way.
  if (payload.task === 'backup') {
    if (!opts.masterKey) throw new Error('backups need the master key');
    return { backup: await backupAndPrune(db, env(), opts.masterKey, { keep: env().ENCLAVE_BACKUP_KEEP, actor: 'maintenance' }) };
  }
  // Every 10 minutes: the usage page's daily rollup (finished days once, today's partial day each run).
  if (payload.task === 'usage-rollup') return { usage: await rollUpUsage(db) };
  // Hourly: audit months ahead, expired months archived before they are dropped, /v1 calls per key and hour.
  if (payload.task === 'audit-upkeep') return { audit: await runAuditUpkeep(db, env()) };
  // Directory accounts that left LDAP, or were disabled there, are disabled here (sessions ended); roles follow their groups.
  if (payload.task === 'ldap-sync') {
    const ldap = opts.ldap === undefined ? ldapSettings() : opts.ldap;
    return ldap ? { ldap: await syncLdapAccounts(db, ldap) } : {};
  }
  // One worker runs each scheduled checkpoint; the anchor lock keeps a verification or a second worker out meanwhile.
  if (payload.task === 'audit-checkpoint') {
    if (!opts.anchors) throw new Error('audit checkpoints need the master key');
    return { checkpoint: await checkpointAuditLog(db, opts.anchors) };
  }
  // The master key opens the sealed webhook URLs alerts are posted to.
  if (payload.task === 'alerts') return evaluateAlerts(db, { masterKey: opts.masterKey });
  // Every 15 s: silent nodes, load tests whose worker died mid-run (taken over, or failed after 2 minutes), replies whose writer died mid-stream,
  // knowledge documents left unfinished with no job (queued again; failed the third time).
  if (payload.task === 'nodes')
    return {
      unhealthy: await sweepNodes(db),
      abandonedLoadTests: await sweepAbandonedLoadTests(db),
      requeuedLoadTests: await requeueSilentLoadTests(db),
      interruptedReplies: await sweepInterruptedReplies(db),
      stalledDocuments: await sweepStalledDocuments(db),
    };
  if (payload.task === 'partitions') {
    await ensureRequestLogPartitions(db);
    // Daily too: GPU samples past a week are thinned to 4-minute rows, past 30 days deleted.
    await thinGpuSamples(db);
    return {};
  }
  return { removed: await deleteExpiredSessions(db) };
}

/** The `maintenance` queue's consumer; its schedules (daily, hourly, every 15 s...) are in the queue contract. */
export function startMaintenanceWorker(db: Db, masterKey?: Buffer) {
  const anchors = masterKey && auditAnchors(env(), masterKey);
  // LDAP settings read now (files included): one that cannot be read stops the worker's start, naming the variable.
  ldapSettingsFrom(env());
  return defineConsumer('maintenance', (payload) => runMaintenance(db, payload, { masterKey, anchors }));
}
