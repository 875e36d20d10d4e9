import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Env } from '../../core/env';
import { artifactBackend, ArtifactError, type ArtifactBackend, type ArtifactEnv } from '../../artifacts';
import { backupRoot, listBackupDirs, resolveBackup } from './backup-dirs';
import { MANIFEST_FILE, parseManifest, type Manifest } from './manifest';

/**
 * Where backups are kept: a directory (ENCLAVE_BACKUP_DIR, or <data dir>/backups), or the artifact store
 * under `backups/` (with ENCLAVE_ARTIFACTS=s3 and no ENCLAVE_BACKUP_DIR), so every host of a fleet lists,
 * drills and restores the same backups and none is lost with the host that wrote it.
 *
 * In the store a backup is the same files as in a directory: `backups/<id>/manifest.json` and
 * `backups/<id>/parts/<part>.enc`, written through the backend as the bytes they are. They are not sealed
 * again by the store's envelope encryption: the parts are already sealed under the backup key and the
 * manifest is authenticated by it, and a data key (what the store would seal under) lives in the very
 * database a restore starts without. S3 server-side encryption, when configured, still applies.
 * The manifest is written last: a backup is listed only once all of its parts are there.
 */
export type BackupPlace = { kind: 'dir'; root: string; where: string } | { kind: 'store'; backend: ArtifactBackend; where: string };

/** One backup: its id and where it is. */
export interface BackupRef {
  id: string;
  place: BackupPlace;
}

export type PlaceEnv = Pick<Env, 'ENCLAVE_BACKUP_DIR' | 'dataDir'> & Partial<ArtifactEnv>;

export const STORE_PREFIX = 'backups/';
const storeKey = (id: string, rest: string) => `${STORE_PREFIX}${id}/${rest}`;
const MANIFEST_KEY = /^backups\/(enclave-[A-Za-z0-9-]+)\/manifest\.json$/;
const ID = /^enclave-[A-Za-z0-9-]+$/;

export const dirPlace = (root: string): BackupPlace => ({ kind: 'dir', root: path.resolve(root), where: path.resolve(root) });
export const storePlace = (backend: ArtifactBackend): BackupPlace => ({ kind: 'store', backend, where: `${backend.where} (${STORE_PREFIX})` });

/**
 * The configured place: `to` when given (a command's --to), else ENCLAVE_BACKUP_DIR when set, else the
 * artifact store when it is S3, else <data dir>/backups.
 */
export function backupPlace(env: PlaceEnv, opts: { to?: string; store?: ArtifactBackend } = {}): BackupPlace {
  if (opts.to) return dirPlace(opts.to);
  if (opts.store) return storePlace(opts.store);
  if (!env.ENCLAVE_BACKUP_DIR && env.ENCLAVE_ARTIFACTS === 's3') return storePlace(artifactBackend(env as ArtifactEnv));
  return dirPlace(backupRoot(env));
}

/** Finished backups' ids, oldest first (ids start with the time). */
export async function listBackupIds(place: BackupPlace): Promise<string[]> {
  if (place.kind === 'dir') return listBackupDirs(place.root).map((d) => path.basename(d));
  const ids: string[] = [];
  for await (const o of place.backend.list(STORE_PREFIX)) {
    const m = MANIFEST_KEY.exec(o.key);
    if (m) ids.push(m[1]!);
  }
  return ids.sort();
}

async function readAll(stream: NodeJS.ReadableStream | Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) parts.push(chunk);
  return Buffer.concat(parts);
}

/** A backup's manifest as stored, unauthenticated (enough to list it; a restore authenticates it). */
export async function peekBackup(ref: BackupRef): Promise<Manifest> {
  if (ref.place.kind === 'dir') return parseManifest(fs.readFileSync(path.join(ref.place.root, ref.id, MANIFEST_FILE), 'utf8'), path.join(ref.place.root, ref.id, MANIFEST_FILE));
  const key = storeKey(ref.id, MANIFEST_FILE);
  let text: string;
  try {
    text = (await readAll(await ref.place.backend.read(key))).toString('utf8');
  } catch (e) {
    if (e instanceof ArtifactError && e.code === 'NOT_FOUND') throw new Error(`There is no backup ${ref.id} in ${ref.place.where}`);
    throw e;
  }
  return parseManifest(text, key);
}

/** The backup a command or the admin page names (an id; in a directory also a path), or the newest. */
export async function findBackup(place: BackupPlace, nameOrPath?: string): Promise<BackupRef | null> {
  if (nameOrPath === undefined) {
    const newest = (await listBackupIds(place)).at(-1);
    return newest ? { id: newest, place } : null;
  }
  if (place.kind === 'dir' || nameOrPath.includes('/')) {
    const dir = resolveBackup(place.kind === 'dir' ? place.root : path.resolve('.'), nameOrPath);
    return { id: path.basename(dir), place: dirPlace(path.dirname(dir)) };
  }
  if (!ID.test(nameOrPath)) throw new Error(`"${nameOrPath}" is not a backup id (enclave-…)`);
  return { id: nameOrPath, place };
}

/** The folder of a backup kept in a directory; null for one in the store (see fetchBackup). */
export const localDirOf = (ref: BackupRef): string | null => (ref.place.kind === 'dir' ? path.join(ref.place.root, ref.id) : null);

/**
 * The backup as a local folder the restore code reads: a directory backup is used where it is; one in the
 * store is downloaded into `scratch/<id>` (what `only` names of its parts, or all of them), checked there
 * against its manifest like any other. The caller removes `scratch`.
 */
export async function fetchBackup(ref: BackupRef, scratch: string, only?: (part: string) => boolean): Promise<string> {
  const local = localDirOf(ref);
  if (local) return local;
  const backend = (ref.place as Extract<BackupPlace, { kind: 'store' }>).backend;
  const dir = path.join(scratch, ref.id);
  await fsp.mkdir(path.join(dir, 'parts'), { recursive: true, mode: 0o700 });
  let manifestFound = false;
  for await (const o of backend.list(`${STORE_PREFIX}${ref.id}/`)) {
    const rest = o.key.slice(`${STORE_PREFIX}${ref.id}/`.length);
    const part = /^parts\/([A-Za-z0-9_-]+)\.enc$/.exec(rest)?.[1];
    if (rest === MANIFEST_FILE) manifestFound = true;
    else if (!part || (only && !only(part))) continue;
    await pipeline(await backend.read(o.key), fs.createWriteStream(path.join(dir, ...rest.split('/')), { mode: 0o600 }));
  }
  if (!manifestFound) throw new Error(`There is no backup ${ref.id} in ${ref.place.where}`);
  return dir;
}

/** Stores one finished part of a backup being written into the store (the local file is the caller's to remove). */
export async function putBackupFile(backend: ArtifactBackend, id: string, rel: string, file: string): Promise<void> {
  await backend.write(storeKey(id, rel), fs.createReadStream(file));
}

/** Removes a backup: the manifest first (it stops being listed at once), then its parts. */
export async function deleteBackup(ref: BackupRef): Promise<void> {
  const local = localDirOf(ref);
  if (local) {
    fs.rmSync(local, { recursive: true, force: true });
    return;
  }
  const backend = (ref.place as Extract<BackupPlace, { kind: 'store' }>).backend;
  await backend.delete(storeKey(ref.id, MANIFEST_FILE));
  for await (const o of backend.list(`${STORE_PREFIX}${ref.id}/`)) await backend.delete(o.key);
}

/** Whether a store key is a backup's (never carried inside another backup as an artifact). */
export const isBackupKey = (key: string) => key.startsWith(STORE_PREFIX);

/** Key ids removed by erasures, kept beside the backups (see keyring.ts). */
const LEDGER = 'shredded-data-keys.json';

export async function shreddedIdsAt(place: BackupPlace): Promise<Set<number>> {
  try {
    const text =
      place.kind === 'dir' ? fs.readFileSync(path.join(place.root, LEDGER), 'utf8') : (await readAll(await place.backend.read(`${STORE_PREFIX}${LEDGER}`))).toString('utf8');
    return new Set((JSON.parse(text) as { ids: number[] }).ids);
  } catch {
    return new Set();
  }
}

export async function recordShreddedAt(place: BackupPlace, ids: number[]): Promise<void> {
  const all = [...new Set([...(await shreddedIdsAt(place)), ...ids])].sort((a, b) => a - b);
  const text = JSON.stringify({ ids: all }) + '\n';
  if (place.kind === 'store') {
    await place.backend.write(`${STORE_PREFIX}${LEDGER}`, Readable.from([Buffer.from(text)]));
    return;
  }
  fs.mkdirSync(place.root, { recursive: true });
  const file = path.join(place.root, LEDGER);
  fs.writeFileSync(`${file}.next`, text, { mode: 0o600 });
  fs.renameSync(`${file}.next`, file);
}
