import { createHash, hkdfSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Env } from '../../core/env';
import { decodeKey } from '../../security/master-key';

/**
 * The key backups are sealed with. Never stored in a backup (the master key file is left out too).
 *
 * ENCLAVE_BACKUP_KEY_FILE when set: separate custody, so whoever holds the backup media and its key
 * need not hold the master key, and the key survives a master-key rotation. Unset: derived from the
 * master key with HKDF under its own label, so every install's backups are encrypted from the first day
 * without another secret to lose; a restore needs the master key anyway (it wraps the data keys).
 */
export interface BackupKey {
  key: Buffer;
  /** Identifies the key without revealing it (stored in the manifest, named in refusals). */
  fingerprint: string;
  source: 'ENCLAVE_BACKUP_KEY_FILE' | 'derived from the master key';
}

export function backupKey(env: Pick<Env, 'ENCLAVE_BACKUP_KEY_FILE'>, masterKey: Buffer): BackupKey {
  const key = env.ENCLAVE_BACKUP_KEY_FILE
    ? readBackupKeyFile(path.resolve(env.ENCLAVE_BACKUP_KEY_FILE))
    : Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'enclave backup key v1', 32));
  return { key, fingerprint: backupKeyFingerprint(key), source: env.ENCLAVE_BACKUP_KEY_FILE ? 'ENCLAVE_BACKUP_KEY_FILE' : 'derived from the master key' };
}

export function backupKeyFingerprint(key: Buffer): string {
  return createHash('sha256').update('enclave-backup-fingerprint').update(key).digest('hex').slice(0, 16);
}

/** Per backup: one key for its parts, one for its manifest's MAC (each backup's id is its salt). */
export function backupSubkeys(key: Buffer, backupId: string): { parts: Buffer; manifest: Buffer } {
  const derive = (label: string) => Buffer.from(hkdfSync('sha256', key, Buffer.from(backupId), label, 32));
  return { parts: derive('enclave backup parts v1'), manifest: derive('enclave backup manifest v1') };
}

function readBackupKeyFile(file: string): Buffer {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (e) {
    throw new Error(`ENCLAVE_BACKUP_KEY_FILE: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    throw new Error(`ENCLAVE_BACKUP_KEY_FILE: ${file} can be read or written by its group or others; run chmod 600 on it`);
  }
  return decodeKey(fs.readFileSync(file, 'utf8'), `ENCLAVE_BACKUP_KEY_FILE (${file})`);
}
