import fs from 'node:fs';
import path from 'node:path';
import type { Env } from '../../core/env';
import type { Db } from '../../db/client';
import { writeAudit } from '../../security/audit';
import { backupRoot, listBackupDirs } from './backup-dirs';
import { createBackup } from './create';
import { backupSize } from './manifest';

export interface BackupRun {
  id: string;
  bytes: number;
  seconds: number;
  pruned: string[];
}

/**
 * One backup, audited (`backup.create`: id, size, parts; never content), then the oldest removed beyond
 * ENCLAVE_BACKUP_KEEP (the daily task; `enclave backup` keeps them all). A failed backup is audited as a
 * failure and thrown, so the queue retries it and the worker's log says why.
 */
export async function backupAndPrune(db: Db, env: Env, masterKey: Buffer, opts: { to?: string; keep?: number; actor: string; onProgress?: Parameters<typeof createBackup>[0]['onProgress'] }): Promise<BackupRun> {
  const started = Date.now();
  const root = path.resolve(opts.to ?? backupRoot(env));
  try {
    const { id, manifest } = await createBackup({ db, env, masterKey, to: root, onProgress: opts.onProgress });
    const pruned: string[] = [];
    if (opts.keep !== undefined && opts.keep > 0) {
      const all = listBackupDirs(root);
      for (const dir of all.slice(0, Math.max(0, all.length - opts.keep))) {
        fs.rmSync(dir, { recursive: true, force: true });
        pruned.push(path.basename(dir));
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
