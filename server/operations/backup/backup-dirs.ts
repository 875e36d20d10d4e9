import fs from 'node:fs';
import path from 'node:path';
import type { Env } from '../../core/env';
import { MANIFEST_FILE } from './manifest';

/** ENCLAVE_BACKUP_DIR, or <data dir>/backups (which backups leave out). */
export function backupRoot(env: Pick<Env, 'ENCLAVE_BACKUP_DIR' | 'dataDir'>): string {
  return path.resolve(env.ENCLAVE_BACKUP_DIR ?? path.join(env.dataDir, 'backups'));
}

/** Finished backups (a folder with a manifest; one being written is `<id>.partial`), oldest first by id (ids start with the time). */
export function listBackupDirs(root: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith('enclave-') && !n.endsWith('.partial') && fs.existsSync(path.join(root, n, MANIFEST_FILE)))
    .sort()
    .map((n) => path.join(root, n));
}

/** A backup named by its id, or by a path to its folder. */
export function resolveBackup(root: string, nameOrPath: string): string {
  if (nameOrPath.includes('/') || nameOrPath.includes(path.sep)) return path.resolve(nameOrPath);
  if (!/^enclave-[A-Za-z0-9-]+$/.test(nameOrPath)) throw new Error(`"${nameOrPath}" is not a backup id (enclave-…) or a path`);
  return path.join(root, nameOrPath);
}
