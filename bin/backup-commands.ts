import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { env } from '../server/core/env';
import { createDb } from '../server/db/client';
import { databaseIdentity } from '../server/db/app-role';
import { writeAudit } from '../server/security/audit';
import { backupRoot } from '../server/operations/backup/backup-dirs';
import { backupPlace, fetchBackup } from '../server/operations/backup/place';
import { closeArtifactBackends } from '../server/artifacts';
import { drillAndRecord, pickBackup } from '../server/operations/backup/drills';
import { listBackups } from '../server/operations/backup/list';
import { restoreBackup } from '../server/operations/backup/restore';
import { backupAndPrune } from '../server/operations/backup/scheduled';
import { prepareInfrastructure } from '../server/services/infrastructure';
import { options, UsageError } from './args';
import { withInfrastructure } from './infrastructure';

const out = (line: string) => process.stdout.write(line + '\n');
/** Progress on a terminal only: a log file or a pipe gets the result lines alone. */
const show = (line: string) => {
  if (process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K`);
};
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

/**
 * `enclave backup [--to DIR]`: one consistent, encrypted backup of the database and the data directory's
 * files, into --to, else ENCLAVE_BACKUP_DIR, else the artifact store when it is S3, else <data dir>/backups.
 */
export async function backupCommand(args: string[]): Promise<number> {
  const { values, positionals } = options(args, ['to']);
  if (positionals.length) throw new UsageError(`unexpected argument: ${positionals[0]}`);
  const run = await withInfrastructure(({ db, masterKey }) =>
    backupAndPrune(db, env(), masterKey, {
      to: values.to,
      actor: 'command line',
      onProgress: (p) => show(`${p.phase} ${Math.round(p.fraction * 100)}%${p.detail ? ` ${p.detail}` : ''}`),
    }),
  );
  show('');
  out(`Backup ${run.id} written to ${backupPlace(env(), { to: values.to }).where} (${mib(run.bytes)}, ${run.seconds.toFixed(1)} s).`);
  await closeArtifactBackends();
  return 0;
}

/** `enclave backup list [--json]` */
export async function backupListCommand(args: string[]): Promise<number> {
  const { values } = options(args, [], ['json']);
  const { root, backups } = await listBackups(env()).finally(() => closeArtifactBackends());
  if (values.json) {
    out(JSON.stringify({ root, backups }));
    return 0;
  }
  if (!backups.length) out(`No backups in ${root}.`);
  for (const b of backups) out(`${b.id}  ${b.createdAt}  ${mib(b.bytes)}  schema ${b.schema}${b.newerSchema ? ' (newer than this release)' : ''}  ${b.rows} rows, ${b.files} files${b.removedKeys ? `, ${b.removedKeys} key(s) shredded` : ''}`);
  return 0;
}

/** `enclave backup drill [BACKUP] [--json]`: restore into a scratch database and compare; exit 1 when it does not match. */
export async function backupDrillCommand(args: string[]): Promise<number> {
  const { values, positionals } = options(args, [], ['json']);
  const report = await withInfrastructure(({ db, masterKey, ownerUrl, databaseUrl }) =>
    drillAndRecord({ db, env: env(), masterKey, backupId: positionals[0], startedBy: null, serverUrl: ownerUrl ?? databaseUrl }),
  ).finally(() => closeArtifactBackends());
  if (values.json) {
    out(JSON.stringify(report));
    return report.ok ? 0 : 1;
  }
  out(`Restore drill of ${report.backupId}: ${report.ok ? 'PASSED' : 'FAILED'} in ${report.seconds.toFixed(1)} s`);
  if (report.error) out(`- ${report.error}`);
  for (const t of report.tables) if (!t.match) out(`- table ${t.table}: ${t.rows} rows (backup: ${t.expectedRows}), content hash differs`);
  if (report.tables.length) out(`- ${report.tables.filter((t) => t.match).length}/${report.tables.length} tables match (row counts and content hashes)`);
  const c = report.conversations;
  out(`- conversations: ${c.decrypted}/${c.total} decrypt (${c.messages} messages)${c.shredded ? `, ${c.shredded} shredded by erasure` : ''}${c.failed ? `, ${c.failed} FAILED` : ''}`);
  out(`- audit chain: ${report.audit.ok ? `intact (${report.audit.rows} rows)` : `BROKEN${report.audit.brokenAtId ? ` at row #${report.audit.brokenAtId}` : ''}`}`);
  for (const p of report.audit.problems) out(`  - ${p}`);
  out(`- files: ${report.files.count} restored and identical (${mib(report.files.bytes)})`);
  return report.ok ? 0 : 1;
}

/**
 * `enclave restore BACKUP`: into an empty database and data directory only. Migrations are not run first
 * (they would make the database non-empty); the restore applies them up to the backup's version itself.
 */
export async function restoreCommand(args: string[]): Promise<number> {
  const { positionals } = options(args, []);
  if (positionals.length !== 1) throw new UsageError('restore needs one BACKUP (an id where backups are kept, or a path to a backup folder)');
  const e = env();
  const ref = await pickBackup(e, positionals[0]);
  // A backup in the artifact store is fetched into a private folder first (TMPDIR: room for the whole backup).
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-restore-'));
  let infra: Awaited<ReturnType<typeof prepareInfrastructure>> | undefined;
  try {
    const backupDir = await fetchBackup(ref, scratch);
    infra = await prepareInfrastructure(e, { redis: false, migrate: false, warnings: false });
    const owner = infra.ownerUrl ? createDb(infra.ownerUrl, 4) : infra.db;
    try {
      const [app, own] = await Promise.all([databaseIdentity(infra.db), databaseIdentity(owner)]);
      const report = await restoreBackup({
        backupDir,
        db: owner,
        appRole: app.role !== own.role ? app.role : undefined,
        dataDir: e.dataDir,
        env: e,
        masterKey: infra.masterKey,
        allowInDataDir: [backupRoot(e)],
        onProgress: (phase, f) => show(`${phase} ${Math.round(f * 100)}%`),
      });
      show('');
      await writeAudit(infra.db, {
        actorLabel: 'command line',
        action: 'backup.restore',
        target: report.backupId,
        outcome: 'success',
        detail: { schema: report.schema, tables: report.tables.length, files: report.files.count, shreddedKeys: report.shreddedKeys },
      });
      out(`Restored ${report.backupId} (schema ${report.schema.backup}, now ${report.schema.code}): ${report.tables.length} tables match the backup, ${report.files.count} files (${mib(report.files.bytes)}).`);
      if (report.shreddedKeys) out(`${report.shreddedKeys} data key(s) had been removed from this backup by erasure: what they sealed stays unreadable.`);
      return 0;
    } finally {
      if (owner !== infra.db) await owner.$client.end().catch(() => {});
    }
  } finally {
    await infra?.close();
    fs.rmSync(scratch, { recursive: true, force: true });
    await closeArtifactBackends();
  }
}
