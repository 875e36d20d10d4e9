import { desc, eq, and, lt, sql } from 'drizzle-orm';
import type { Env } from '../../core/env';
import { DomainError } from '../../core/errors';
import { errorMessage, log } from '../../core/log';
import type { Db } from '../../db/client';
import type { DbOrTx } from '../../db/types';
import { backupDrills } from '../../db/schema';
import { writeAudit } from '../../security/audit';
import { runDrill, type DrillReport } from './drill';
import { backupPlace, findBackup, peekBackup, type BackupRef, type PlaceEnv } from './place';

/** A drill whose process stopped beating for this long (killed, restarted) is failed by the next reader. */
const STALE_MS = 120_000;

export interface DrillStart {
  db: Db;
  env: Env;
  masterKey: Buffer;
  /** A backup id; unset: the newest backup. */
  backupId?: string;
  /** Who asked (null: the command line). */
  startedBy: string | null;
  /** A role that may CREATE DATABASE. */
  serverUrl: string;
}

/** The backup a drill or restore names, or the newest, wherever backups are kept; a clear error when there is none. */
export async function pickBackup(env: PlaceEnv, backupId?: string): Promise<BackupRef> {
  const place = backupPlace(env);
  const ref = await findBackup(place, backupId);
  if (!ref) throw new DomainError('NOT_FOUND', `There is no backup in ${place.where} yet: run \`enclave backup\` first`);
  await peekBackup(ref);
  return ref;
}

/** The drill's row (status running), in the caller's transaction: an API mutation's, with its audit row. */
export async function createDrillRow(db: DbOrTx, opts: Pick<DrillStart, 'env' | 'backupId' | 'startedBy'>): Promise<{ id: string; backup: BackupRef; backupId: string }> {
  let backup: BackupRef;
  try {
    backup = await pickBackup(opts.env, opts.backupId);
  } catch (e) {
    throw e instanceof DomainError ? e : new DomainError('BAD_REQUEST', `backupId: ${errorMessage(e)}`);
  }
  const backupId = (await peekBackup(backup)).id;
  // One at a time: each holds a scratch copy of the whole database.
  if ((await drillsRunning(db)) > 0) throw new DomainError('CONFLICT', 'A restore drill is already running: wait for its result');
  const [row] = await db.insert(backupDrills).values({ backupId, startedBy: opts.startedBy }).returning({ id: backupDrills.id });
  return { id: row!.id, backup, backupId };
}

/** Runs a drill whose row exists, the row following along (phase and progress at most every half second, then the report), and audits its outcome. */
export async function runRecordedDrill(opts: DrillStart & { id: string; backup: BackupRef; backupId: string }): Promise<DrillReport> {
  let last = 0;
  const report = await runDrill({
    backup: opts.backup,
    serverUrl: opts.serverUrl,
    env: opts.env,
    masterKey: opts.masterKey,
    onProgress: (phase, fraction) => {
      if (Date.now() - last < 500) return;
      last = Date.now();
      void opts.db.update(backupDrills).set({ phase, progress: fraction, heartbeatAt: new Date() }).where(eq(backupDrills.id, opts.id)).catch(() => {});
    },
  });
  await opts.db.transaction(async (tx) => {
    await tx
      .update(backupDrills)
      .set({ status: report.ok ? 'passed' : 'failed', phase: 'done', progress: 1, result: report as unknown as Record<string, unknown>, error: report.error ?? null, finishedAt: new Date(), heartbeatAt: new Date() })
      .where(eq(backupDrills.id, opts.id));
    await writeAudit(tx, {
      actorUserId: opts.startedBy,
      actorLabel: opts.startedBy ? null : 'command line',
      action: 'backup.drill',
      target: opts.backupId,
      outcome: report.ok ? 'success' : 'failure',
      detail: {
        drillId: opts.id,
        tables: report.tables.length,
        mismatched: report.tables.filter((t) => !t.match).map((t) => t.table),
        conversations: report.conversations,
        auditChainOk: report.audit.ok,
        files: report.files.count,
        ...(report.error ? { error: report.error.slice(0, 300) } : {}),
      },
    });
  });
  return report;
}

/** A drill from the command line: its row, then the run, awaited. */
export async function drillAndRecord(opts: DrillStart): Promise<DrillReport> {
  const row = await createDrillRow(opts.db, opts);
  return runRecordedDrill({ ...opts, ...row });
}

/** A drill from the admin page: started after the caller's commit, on the process's own pool; the page follows its row. */
export function runDrillInBackground(opts: DrillStart & { id: string; backup: BackupRef; backupId: string }): void {
  runRecordedDrill(opts).catch((e) => log.error('backup drill failed', { drillId: opts.id, error: errorMessage(e) }));
}

export async function listDrills(db: Db, limit = 50) {
  // Drills whose process vanished: failed, once, by whoever reads first.
  await db
    .update(backupDrills)
    .set({ status: 'failed', error: 'The process running this drill stopped before it finished', finishedAt: new Date() })
    .where(and(eq(backupDrills.status, 'running'), lt(backupDrills.heartbeatAt, new Date(Date.now() - STALE_MS))));
  return db.select().from(backupDrills).orderBy(desc(backupDrills.createdAt)).limit(limit);
}

export async function getDrill(db: Db, id: string) {
  const [row] = await db.select().from(backupDrills).where(eq(backupDrills.id, id));
  if (!row) throw new DomainError('NOT_FOUND', 'No such drill');
  return row;
}

export const drillsRunning = async (db: DbOrTx) => (await db.select({ n: sql<number>`count(*)::int` }).from(backupDrills).where(eq(backupDrills.status, 'running')))[0]!.n;
