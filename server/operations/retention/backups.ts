import { errorMessage, log } from '../../core/log';

export type BackupKeyRemoval = { backups: number; keysRemoved: number } | { skipped: string };

import type { Env } from '../../core/env';

type Keyring = { removeKeysFromBackups(dataKeyIds: number[], opts: { env?: Env; masterKey?: Buffer }): Promise<{ backups: number; keysRemoved: number }> };

/**
 * Removes destroyed data keys from every backup's keyring part (backups keep data_keys apart from their
 * main dump, so this shreds the person in old backups too). The backup module is loaded when needed: an
 * install or a test without it gets a clear "skipped" instead of a failed erasure, and the report says so.
 */
export async function removeKeysFromBackups(dataKeyIds: number[], opts: { env?: Env; masterKey: Buffer }): Promise<BackupKeyRemoval> {
  if (!dataKeyIds.length) return { backups: 0, keysRemoved: 0 };
  let keyring: Keyring;
  try {
    // A variable specifier: the backup engineer's module may not exist in this tree yet (issue 13, part 5).
    const specifier = '../backup/keyring';
    keyring = (await import(/* @vite-ignore */ specifier)) as Keyring;
  } catch (e) {
    log.warn('backups were not reached: the backup keyring module cannot be loaded', { error: errorMessage(e) });
    return { skipped: 'the backup keyring module (server/operations/backup/keyring.ts) is not installed' };
  }
  if (typeof keyring.removeKeysFromBackups !== 'function') return { skipped: 'the backup keyring module has no removeKeysFromBackups' };
  return keyring.removeKeysFromBackups(dataKeyIds, opts);
}
