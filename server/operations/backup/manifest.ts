import { createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { canonicalJson } from '../../security/audit';
import { backupSubkeys, type BackupKey } from './backup-key';
import type { PartDigest } from './sealed-part';

/**
 * What a backup holds, part by part, and what it must restore to: authenticated as a whole (HMAC under a
 * key derived from the backup key), so a part's recorded size or hash cannot be edited to match a
 * tampered part. Plain JSON so a backup can be listed without opening it; it holds names, sizes and
 * hashes, never content or keys.
 */
export const MANIFEST_FORMAT = 'enclave-backup/1';

export interface TablePart extends PartDigest {
  table: string;
  part: string;
  columns: string[];
  rows: number;
  /** Order-independent: the sum of every row's SHA-256 (COPY text line) modulo 2^256. */
  rowsHash: string;
}

export interface FilePart extends PartDigest {
  /** Relative to the data directory, with forward slashes; with `store`, the object's key in the artifact store. */
  path: string;
  part: string;
  mode: number;
  /**
   * `artifacts`: an object of the artifact store (S3, or a shared directory apart from the data directory),
   * its stored bytes (already sealed under a data key) as they are. Unset: a file of the data directory.
   */
  store?: 'artifacts';
}

export interface KeyringPart extends PartDigest {
  part: string;
  keys: number;
  /** Over each key row's JSON (row_to_json), order-independent like rowsHash. */
  rowsHash: string;
  /** Data keys removed from this backup since it was written (erasure): restored as unusable placeholders. */
  removedKeyIds: number[];
}

export interface PartitionSpec {
  parent: string;
  name: string;
  /** pg_get_expr(relpartbound): `FOR VALUES FROM (...) TO (...)` or `DEFAULT`. */
  bound: string;
  /** The partition's own triggers (not cloned from its parent), e.g. the audit log's TRUNCATE refusal. */
  triggers: string[];
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  createdAt: string;
  /** The last migration applied to the database backed up. */
  schema: { when: number; tag: string };
  key: { fingerprint: string; source: BackupKey['source'] };
  masterKeyFingerprint: string;
  /** Tables in the order they are loaded (foreign keys first); `data_keys` is the keyring. */
  loadOrder: string[];
  tables: TablePart[];
  keyring: KeyringPart;
  partitions: PartitionSpec[];
  sequences: { name: string; lastValue: string; isCalled: boolean }[];
  files: FilePart[];
  mac?: string;
}

export const MANIFEST_FILE = 'manifest.json';
export const partFile = (backupDir: string, part: string) => path.join(backupDir, 'parts', `${part}.enc`);

function mac(manifest: Manifest, key: Buffer): string {
  const { mac: _ignored, ...body } = manifest;
  return createHmac('sha256', backupSubkeys(key, manifest.id).manifest).update(canonicalJson(body)).digest('hex');
}

/** Written beside, synced, then renamed over: a reader sees the old manifest or the new, never half. */
export function writeManifest(backupDir: string, manifest: Manifest, key: Buffer): void {
  const signed = { ...manifest, mac: mac(manifest, key) };
  const file = path.join(backupDir, MANIFEST_FILE);
  const staged = `${file}.next`;
  const fd = fs.openSync(staged, 'w', 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(signed, null, 1) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(staged, file);
}

/** The manifest as stored, unauthenticated: enough to list a backup (id, date, size, schema). */
export function peekManifest(backupDir: string): Manifest {
  const file = path.join(backupDir, MANIFEST_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${backupDir} is not a backup: cannot read ${MANIFEST_FILE} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseManifest(text, file);
}

/** A manifest's text (from a file, or from the artifact store's `backups/<id>/manifest.json`), unauthenticated. */
export function parseManifest(text: string, where: string): Manifest {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch {
    throw new Error(`Backup part manifest: ${where} is not valid JSON (damaged or altered)`);
  }
  if (manifest?.format !== MANIFEST_FORMAT) throw new Error(`Backup part manifest: unknown format ${String(manifest?.format)} in ${where}`);
  return manifest;
}

/** The manifest, authenticated under the configured backup key; a wrong key or an edit is refused, naming which. */
export function readManifest(backupDir: string, key: BackupKey): Manifest {
  const manifest = peekManifest(backupDir);
  const expected = Buffer.from(mac(manifest, key.key), 'hex');
  const stored = Buffer.from(typeof manifest.mac === 'string' ? manifest.mac : '', 'hex');
  if (stored.length === expected.length && timingSafeEqual(stored, expected)) return manifest;
  if (manifest.key?.fingerprint && manifest.key.fingerprint !== key.fingerprint) {
    throw new Error(
      `Backup part manifest: ${manifest.id} was sealed under backup key ${manifest.key.fingerprint} (${manifest.key.source}), not the configured ${key.fingerprint} (${key.source}): wrong key`,
    );
  }
  throw new Error(`Backup part manifest: the manifest of ${manifest.id} does not authenticate (it was altered)`);
}

export function backupSize(m: Manifest): number {
  return [...m.tables, m.keyring, ...m.files].reduce((sum, p) => sum + p.cipherBytes, 0);
}
