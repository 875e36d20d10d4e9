import path from 'node:path';
import type { Env } from '../../core/env';
import { backupRoot, listBackupDirs } from './backup-dirs';
import { backupSize, peekManifest } from './manifest';
import { codeSchemaVersion } from './schema-version';

export interface BackupSummary {
  id: string;
  createdAt: string;
  bytes: number;
  schema: string;
  /** Written by a newer release: this code refuses to restore it. */
  newerSchema: boolean;
  tables: number;
  rows: number;
  files: number;
  keys: number;
  removedKeys: number;
  keyFingerprint: string;
}

/** Every finished backup, newest first, from its manifest (unauthenticated: listing needs no key; a restore checks). */
export function listBackups(env: Pick<Env, 'ENCLAVE_BACKUP_DIR' | 'dataDir'>): { root: string; backups: BackupSummary[] } {
  const root = backupRoot(env);
  const code = codeSchemaVersion();
  const backups: BackupSummary[] = [];
  for (const dir of listBackupDirs(root).reverse()) {
    try {
      const m = peekManifest(dir);
      backups.push({
        id: m.id,
        createdAt: m.createdAt,
        bytes: backupSize(m),
        schema: m.schema.tag,
        newerSchema: m.schema.when > code.when,
        tables: m.tables.length,
        rows: m.tables.reduce((s, t) => s + t.rows, 0),
        files: m.files.length,
        keys: m.keyring.keys,
        removedKeys: m.keyring.removedKeyIds.length,
        keyFingerprint: m.key.fingerprint,
      });
    } catch {
      backups.push({ id: path.basename(dir), createdAt: '', bytes: 0, schema: 'unreadable manifest', newerSchema: false, tables: 0, rows: 0, files: 0, keys: 0, removedKeys: 0, keyFingerprint: '' });
    }
  }
  return { root, backups };
}
