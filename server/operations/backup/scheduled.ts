import type { Env } from '../../core/env';
import type { Db } from '../../db/client';
import { writeAudit } from '../../security/audit';
import { createBackup } from './create';
import { backupSize } from './manifest';
import type { ArtifactBackend } from '../../artifacts';
import { backupPlace, deleteBackup, listBackupIds, type BackupPlace } from './place';

export interface BackupRun {
  id: string;
  bytes: number;
  seconds: number;
  pruned: string[];
}

/**
 * One backup, audited (`backup.create`: id, size, parts; never content), then the oldest removed beyond
 * ENCLAVE_BACKUP_KEEP (the daily task; `enclave backup` keeps them all). A failed backup is audited as a
 * failure and thrown, so the queue retries it and the worker's log says why. Kept where backupPlace says
 * (a directory, or the artifact store when it is S3), pruned there.
 */
export async function backupAndPrune(
  db: Db,
  env: Env,
  masterKey: Buffer,
  opts: {
    to?: string;
    place?: BackupPlace;
    /** The artifact store whose objects the backup carries (default: the configured one). */
    artifacts?: ArtifactBackend;
    keep?: number;
    actor: string;
    onProgress?: Parameters<typeof createBackup>[0]['onProgress'];
  },
): Promise<BackupRun> {
  const started = Date.now();
  const place = opts.place ?? backupPlace(env, { to: opts.to });
  const root = place.where;
  try {
    const { id, manifest } = await createBackup({ db, env, masterKey, place, artifacts: opts.artifacts, onProgress: opts.onProgress });
    const pruned: string[] = [];
    if (opts.keep !== undefined && opts.keep > 0) {
      const all = await listBackupIds(place);
      for (const old of all.slice(0, Math.max(0, all.length - opts.keep))) {
        await deleteBackup({ id: old, place });
        pruned.push(old);
      }
    }
    const run = { id, bytes: backupSize(manifest), seconds: (Date.now() - started) / 1000, pruned };
    await writeAudit(db, {
      actorLabel: opts.actor,
      action: 'backup.create',
      target: id,
      outcome: 'success',
      detail: { dir: root, bytes: run.bytes, tables: manifest.tables.length, files: manifest.files.length, keys: manifest.keyring.keys, schema: manifest.schema.tag, pruned },
    });
    return run;
  } catch (e) {
    await writeAudit(db, { actorLabel: opts.actor, action: 'backup.create', target: root, outcome: 'failure', detail: { error: (e as Error).message.slice(0, 300) } }).catch(() => {});
    throw e;
  }
}
