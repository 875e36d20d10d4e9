import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { env as processEnv, type Env } from '../../core/env';
import { loadMasterKey } from '../../security/master-key';
import { backupKey, backupSubkeys, type BackupKey } from './backup-key';
import { MANIFEST_FILE, partFile, readManifest, writeManifest, type KeyringPart, type Manifest } from './manifest';
import { backupPlace, fetchBackup, listBackupIds, localDirOf, putBackupFile, recordShreddedAt, type BackupPlace, type BackupRef } from './place';
import { RowHasher } from './row-hash';
import { PartWriter, readPart } from './sealed-part';

/**
 * The data keys of a backup live in a part of their own, the keyring, never in the main dump: erasing a
 * person (crypto-shredding) rewrites every backup's keyring without that person's keys, and whatever of
 * theirs the backup still holds can no longer be opened, while the rest of the backup restores as before.
 * The keyring is one JSON object per key (row_to_json of data_keys, whatever columns it has).
 */

export interface KeyRow {
  id: number;
  /** The row as row_to_json wrote it: restored with json_populate_record. */
  json: string;
}

/** Seals key rows as a keyring part named `keyring-<n>` (a new name each time it is rewritten). */
export async function writeKeyring(backupDir: string, manifestId: string, key: Buffer, rows: KeyRow[], generation: number, removedKeyIds: number[]): Promise<KeyringPart> {
  const part = `keyring-${generation}`;
  const writer = await PartWriter.create(partFile(backupDir, part), backupSubkeys(key, manifestId).parts, `${manifestId}/keyring`);
  const hasher = new RowHasher();
  try {
    for (const row of rows) {
      hasher.addRow(row.json);
      await writer.write(Buffer.from(row.json + '\n'));
    }
  } catch (e) {
    await writer.abort();
    throw e;
  }
  return { part, keys: rows.length, rowsHash: hasher.digest(), removedKeyIds: [...removedKeyIds].sort((a, b) => a - b), ...(await writer.finish()) };
}

export async function readKeyring(backupDir: string, manifest: Manifest, key: Buffer): Promise<KeyRow[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of readPart(partFile(backupDir, manifest.keyring.part), backupSubkeys(key, manifest.id).parts, `${manifest.id}/keyring`, manifest.keyring.part)) chunks.push(chunk);
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((json) => ({ id: Number((JSON.parse(json) as { id: number }).id), json }));
}

/** Keyring files of a backup its manifest no longer names (left by an interrupted rewrite): removed. */
function removeStaleKeyrings(backupDir: string, manifest: Manifest): void {
  for (const name of fs.readdirSync(path.join(backupDir, 'parts'))) {
    if (/^keyring-\d+\.enc$/.test(name) && name !== `${manifest.keyring.part}.enc`) fs.rmSync(path.join(backupDir, 'parts', name), { force: true });
  }
}

/** Drops keys from one backup's keyring: a new keyring part, then the manifest naming it, then the old part deleted. */
export async function removeKeysFromBackup(backupDir: string, key: BackupKey, dataKeyIds: Set<number>): Promise<number> {
  const manifest = readManifest(backupDir, key);
  const rows = await readKeyring(backupDir, manifest, key.key);
  const kept = rows.filter((r) => !dataKeyIds.has(r.id));
  const removed = rows.length - kept.length;
  if (removed > 0) {
    const generation = Number(manifest.keyring.part.split('-')[1] ?? 0) + 1;
    const removedIds = [...manifest.keyring.removedKeyIds, ...rows.filter((r) => dataKeyIds.has(r.id)).map((r) => r.id)];
    const keyring = await writeKeyring(backupDir, manifest.id, key.key, kept, generation, removedIds);
    writeManifest(backupDir, { ...manifest, keyring }, key.key);
    removeStaleKeyrings(backupDir, { ...manifest, keyring });
  } else removeStaleKeyrings(backupDir, manifest);
  return removed;
}

/**
 * Drops keys from a backup wherever it is. One in the artifact store: its manifest and keyring are fetched
 * into a private folder, rewritten there, and stored back (the new keyring part, then the manifest naming
 * it, then the old keyring object removed), the same order as in a directory.
 */
async function removeKeysFromRef(ref: BackupRef, key: BackupKey, dataKeyIds: Set<number>): Promise<number> {
  const local = localDirOf(ref);
  if (local) return removeKeysFromBackup(local, key, dataKeyIds);
  const backend = (ref.place as Extract<BackupPlace, { kind: 'store' }>).backend;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-keyring-'));
  try {
    const dir = await fetchBackup(ref, scratch, (part) => part.startsWith('keyring-'));
    const before = readManifest(dir, key).keyring.part;
    const removed = await removeKeysFromBackup(dir, key, dataKeyIds);
    const after = readManifest(dir, key).keyring.part;
    if (after !== before) {
      await putBackupFile(backend, ref.id, `parts/${after}.enc`, partFile(dir, after));
      await putBackupFile(backend, ref.id, MANIFEST_FILE, path.join(dir, MANIFEST_FILE));
      await backend.delete(`backups/${ref.id}/parts/${before}.enc`);
    }
    return removed;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Removes data keys from every backup (ENCLAVE_BACKUP_DIR, or the artifact store: see place.ts; the
 * retention/erasure contract): each backup's keyring is rewritten without them and its manifest updated,
 * so content sealed under those keys cannot be read from any backup, while everything else restores. The
 * ids are also recorded beside the backups, so a backup being written at this moment drops them when it
 * finishes. A backup that cannot be rewritten (wrong key, damaged) is reported by an error naming it after
 * all others were done: it may still hold the keys.
 */
export async function removeKeysFromBackups(
  dataKeyIds: number[],
  opts: { env?: Env; masterKey?: Buffer; backupDir?: string; place?: BackupPlace } = {},
): Promise<{ backups: number; keysRemoved: number }> {
  const e = opts.env ?? processEnv();
  const place = opts.place ?? backupPlace(e, { to: opts.backupDir });
  const ids = new Set(dataKeyIds.filter((id) => Number.isInteger(id) && id > 0));
  if (ids.size !== dataKeyIds.length) throw new Error('dataKeyIds must be positive integers');
  if (ids.size === 0) return { backups: 0, keysRemoved: 0 };
  await recordShreddedAt(place, [...ids]);
  const key = backupKey(e, opts.masterKey ?? (await loadMasterKey(e, { create: false })).key);
  let backups = 0;
  let keysRemoved = 0;
  const failures: string[] = [];
  for (const id of await listBackupIds(place)) {
    try {
      const removed = await removeKeysFromRef({ id, place }, key, ids);
      backups++;
      keysRemoved += removed;
    } catch (err) {
      failures.push(`${id}: ${(err as Error).message}`);
    }
  }
  if (failures.length) throw new Error(`Data keys could not be removed from ${failures.length} backup(s), which may still hold them: ${failures.join('; ')}`);
  return { backups, keysRemoved };
}
