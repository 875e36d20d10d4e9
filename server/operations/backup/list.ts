import { backupSize } from './manifest';
import { backupPlace, listBackupIds, peekBackup, type BackupPlace, type PlaceEnv } from './place';
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

/**
 * Every finished backup, newest first, from its manifest (unauthenticated: listing needs no key; a restore
 * checks), wherever they are kept (a directory, or the artifact store: see place.ts). `root` says where.
 */
export async function listBackups(env: PlaceEnv, opts: { place?: BackupPlace } = {}): Promise<{ root: string; backups: BackupSummary[] }> {
  const place = opts.place ?? backupPlace(env);
  const code = codeSchemaVersion();
  const backups: BackupSummary[] = [];
  for (const id of (await listBackupIds(place)).reverse()) {
    try {
      const m = await peekBackup({ id, place });
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
      backups.push({ id, createdAt: '', bytes: 0, schema: 'unreadable manifest', newerSchema: false, tables: 0, rows: 0, files: 0, keys: 0, removedKeys: 0, keyFingerprint: '' });
    }
  }
  return { root: place.where, backups };
}
