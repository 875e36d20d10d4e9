import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { to as copyTo } from 'pg-copy-streams';
import type { Env } from '../../core/env';
import type { Db } from '../../db/client';
import { keyFingerprint } from '../../security/master-key';
import { backupKey, backupSubkeys } from './backup-key';
import { copyColumns, ident, KEYRING_TABLE, listPartitions, listTables, loadOrder, readSequences, STABLE_TEXT_SETTINGS } from './catalog';
import { listDataFiles } from './data-files';
import { writeKeyring, type KeyRow } from './keyring';
import { MANIFEST_FILE, partFile, writeManifest, MANIFEST_FORMAT, type FilePart, type Manifest, type TablePart } from './manifest';
import { backupPlace, deleteBackup, isBackupKey, putBackupFile, shreddedIdsAt, type BackupPlace, type PlaceEnv } from './place';
import { RowHasher } from './row-hash';
import { PartWriter } from './sealed-part';
import { appliedSchemaVersion } from './schema-version';
import { ArtifactError, backendForDataDir, checkKey, type ArtifactBackend } from '../../artifacts';

export interface BackupProgress {
  phase: 'database' | 'files' | 'done';
  /** 0..1 */
  fraction: number;
  detail?: string;
}

export interface CreateBackupOptions {
  db: Db;
  env: Pick<Env, 'dataDir' | 'ENCLAVE_BACKUP_DIR' | 'ENCLAVE_BACKUP_KEY_FILE' | 'ENCLAVE_MASTER_KEY_FILE' | 'ENCLAVE_AUDIT_ANCHOR_DIR'> & PlaceEnv;
  masterKey: Buffer;
  /** Where to write (a directory); unset: `place`, else the configured place (see place.ts). */
  to?: string;
  /** Where to write: a directory or the artifact store (default: backupPlace(env, { to })). */
  place?: BackupPlace;
  /** The artifact store whose objects the backup carries (default: the configured one; see backendForDataDir). */
  artifacts?: ArtifactBackend;
  onProgress?: (p: BackupProgress) => void;
}

/**
 * A consistent logical backup, written by Enclave itself rather than pg_dump (which must match the
 * server's major version: the embedded PostgreSQL 17 ships without it, and a distribution's client is
 * often older than the server). Every table is read with COPY inside one REPEATABLE READ, READ ONLY
 * transaction, so all of them show the same instant; the data directory's files are copied while that
 * snapshot is held. Each table, the keyring (data_keys) and each file is a part sealed under the backup
 * key; the manifest records every part's size and hashes, and the schema version, and is authenticated.
 * Written into `<id>.partial` and renamed when complete, so a listing never shows half a backup. Into the
 * artifact store, each part is written to a private local folder, stored and deleted as soon as it is
 * sealed (local disk holds one part at a time), and the manifest goes last.
 */
export async function createBackup(opts: CreateBackupOptions): Promise<{ id: string; dir: string; manifest: Manifest }> {
  const place = opts.place ?? backupPlace(opts.env, { to: opts.to });
  const key = backupKey(opts.env, opts.masterKey);
  const createdAt = new Date();
  // Milliseconds in the id: backups sort by it (oldest pruned first), and two can start within a second.
  const id = `enclave-${createdAt.toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
  const toStore = place.kind === 'store' ? place.backend : undefined;
  const root = place.kind === 'dir' ? place.root : fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-backup-'));
  const staging = path.join(root, `${id}.partial`);
  fs.mkdirSync(path.join(staging, 'parts'), { recursive: true, mode: 0o700 });
  /** A finished part: into the store and off the local disk when the backup goes there. */
  const spool = async (part: string) => {
    if (!toStore) return;
    await putBackupFile(toStore, id, `parts/${part}.enc`, partFile(staging, part));
    fs.rmSync(partFile(staging, part), { force: true });
  };
  const partsKey = backupSubkeys(key.key, id).parts;
  const progress = opts.onProgress ?? (() => {});
  const client = await opts.db.$client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    for (const s of STABLE_TEXT_SETTINGS) await client.query(s);
    const schema = await appliedSchemaVersion((text) => client.query(text));
    const tables = await listTables(client);
    const order = await loadOrder(client, tables);
    const tableParts: TablePart[] = [];
    let n = 0;
    for (const table of order.filter((t) => t !== KEYRING_TABLE)) {
      progress({ phase: 'database', fraction: (0.6 * n) / order.length, detail: table });
      const part = `t${String(++n).padStart(4, '0')}`;
      const columns = await copyColumns(client, table);
      const writer = await PartWriter.create(partFile(staging, part), partsKey, `${id}/${part}`);
      const hasher = new RowHasher();
      // COPY (SELECT ...): a partitioned table cannot be copied from directly; its rows come from every partition.
      const stream = client.query(copyTo(`COPY (SELECT ${columns.map(ident).join(', ')} FROM public.${ident(table)}) TO STDOUT`));
      await pipeline(
        stream,
        new Writable({
          write(chunk: Buffer, _enc, done) {
            hasher.update(chunk);
            writer.write(chunk).then(() => done(), done);
          },
        }),
      ).catch(async (e) => {
        await writer.abort();
        throw e;
      });
      tableParts.push({ table, part, columns, rows: hasher.rows, rowsHash: hasher.digest(), ...(await writer.finish()) });
      await spool(part);
    }
    // The keyring: data keys, still wrapped by the master key, in a part an erasure can rewrite.
    const { rows: keyRows } = await client.query<{ id: number; json: string }>(`SELECT id, row_to_json(k)::text AS json FROM public.${ident(KEYRING_TABLE)} k ORDER BY id`);
    const partitions = await listPartitions(client);
    const sequences = await readSequences(client);

    // Files, while the snapshot is held: a dataset row and its file are taken at (nearly) the same moment.
    const leaveOut = [root, ...(opts.env.ENCLAVE_MASTER_KEY_FILE ? [opts.env.ENCLAVE_MASTER_KEY_FILE] : []), ...(opts.env.ENCLAVE_BACKUP_KEY_FILE ? [opts.env.ENCLAVE_BACKUP_KEY_FILE] : [])];
    const files = listDataFiles(opts.env.dataDir, leaveOut);
    const fileParts: FilePart[] = [];
    let f = 0;
    for (const file of files) {
      progress({ phase: 'files', fraction: 0.6 + (0.4 * f) / Math.max(files.length, 1), detail: file.rel });
      const part = `f${String(++f).padStart(5, '0')}`;
      const writer = await PartWriter.create(partFile(staging, part), partsKey, `${id}/${part}`);
      try {
        for await (const chunk of fs.createReadStream(file.abs)) await writer.write(chunk as Buffer);
      } catch (e) {
        await writer.abort();
        // A file removed between the listing and its copy (a deleted dataset) is simply not in the backup.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
          fs.rmSync(partFile(staging, part), { force: true });
          continue;
        }
        throw e;
      }
      fileParts.push({ path: file.rel, part, mode: file.mode, ...(await writer.finish()) });
      await spool(part);
    }
    // The artifact store's objects (datasets, model outputs) when they are not files of the data directory
    // already: S3, or a shared directory elsewhere. Their stored bytes, sealed again under the backup key.
    const store = opts.artifacts ?? backendForDataDir(opts.env.dataDir);
    if (!(store.kind === 'dir' && store.where === path.resolve(opts.env.dataDir))) {
      for await (const object of store.list('')) {
        // Backups kept in the store are never carried inside the next one.
        if (!isArtifactKey(object.key) || isBackupKey(object.key)) continue;
        progress({ phase: 'files', fraction: 0.99, detail: object.key });
        const part = `f${String(++f).padStart(5, '0')}`;
        const writer = await PartWriter.create(partFile(staging, part), partsKey, `${id}/${part}`);
        try {
          for await (const chunk of await store.read(object.key)) await writer.write(chunk as Buffer);
        } catch (e) {
          await writer.abort();
          // Deleted between the listing and its copy: not in the backup, as for a file.
          if (e instanceof ArtifactError && e.code === 'NOT_FOUND') {
            fs.rmSync(partFile(staging, part), { force: true });
            continue;
          }
          throw e;
        }
        fileParts.push({ path: object.key, part, mode: 0o600, store: 'artifacts', ...(await writer.finish()) });
        await spool(part);
      }
    }
    await client.query('COMMIT');
    // Written last: keys an erasure destroyed while this backup was being written (recorded beside the
    // backups by removeKeysFromBackups) are left out here, since that call did not see this backup yet.
    const shredded = await shreddedIdsAt(place);
    const keys: KeyRow[] = keyRows.filter((r) => !shredded.has(Number(r.id))).map((r) => ({ id: Number(r.id), json: r.json }));
    const keyring = await writeKeyring(staging, id, key.key, keys, 1, keyRows.filter((r) => shredded.has(Number(r.id))).map((r) => Number(r.id)));
    await spool(keyring.part);

    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      id,
      createdAt: createdAt.toISOString(),
      schema,
      key: { fingerprint: key.fingerprint, source: key.source },
      masterKeyFingerprint: keyFingerprint(opts.masterKey),
      loadOrder: order,
      tables: tableParts,
      keyring,
      partitions,
      sequences,
      files: fileParts,
    };
    writeManifest(staging, manifest, key.key);
    let dir: string;
    if (toStore) {
      // Last: the manifest's presence is what makes the backup listed.
      await putBackupFile(toStore, id, MANIFEST_FILE, path.join(staging, MANIFEST_FILE));
      dir = `${place.where} ${id}`;
    } else {
      dir = path.join(root, id);
      fs.renameSync(staging, dir);
    }
    progress({ phase: 'done', fraction: 1 });
    return { id, dir, manifest };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    fs.rmSync(staging, { recursive: true, force: true });
    if (toStore) await deleteBackup({ id, place }).catch(() => undefined);
    throw e;
  } finally {
    client.release();
    if (toStore) fs.rmSync(root, { recursive: true, force: true });
  }
}

/** A key the store itself may hold but a restore could not write back (a start-up probe) is no artifact. */
function isArtifactKey(key: string): boolean {
  try {
    checkKey(key);
    return true;
  } catch {
    return false;
  }
}
