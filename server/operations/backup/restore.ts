import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type pg from 'pg';
import type { Env } from '../../core/env';
import type { Db } from '../../db/client';
import { applyMigrations } from '../../db/migrate';
import { grantAppRole } from '../../db/app-role';
import { backupKey, backupSubkeys } from './backup-key';
import { databaseObjects, ident, KEYRING_TABLE, STABLE_TEXT_SETTINGS } from './catalog';
import { dataDirLeftovers } from './data-files';
import { readKeyring } from './keyring';
import { partFile, readManifest, type Manifest } from './manifest';
import { RowHasher } from './row-hash';
import { fileDigest, PartError, readPart } from './sealed-part';
import { codeSchemaVersion, migrateTo } from './schema-version';
import { backendForDataDir, checkKey, type ArtifactBackend } from '../../artifacts';

/** Placeholder for a key an erasure removed from the backup: rows sealed under it restore, unreadable. */
export const SHREDDED_FINGERPRINT = 'shredded';

export interface TableCheck {
  table: string;
  expectedRows: number;
  rows: number;
  expectedHash: string;
  hash: string;
  match: boolean;
}

export interface RestoreReport {
  backupId: string;
  schema: { backup: string; code: string };
  tables: TableCheck[];
  files: { count: number; bytes: number };
  shreddedKeys: number;
}

export interface RestoreOptions {
  /** The backup's folder. */
  backupDir: string;
  /** The target database, connected as the role that owns the tables (migrations run through it). */
  db: Db;
  /** The app's role, granted its rows after the restore when it is not the owner. */
  appRole?: string;
  dataDir: string;
  env: Pick<Env, 'ENCLAVE_BACKUP_KEY_FILE'>;
  masterKey: Buffer;
  /** Apply this code's later migrations after loading (a restore: yes; a drill compares first, then stops). */
  migrateForward?: boolean;
  /** What may already be in the data directory (the master key file, the embedded services' state). */
  allowInDataDir?: string[];
  /** Where the backup's artifact-store objects go back (default: the store for dataDir; see backendForDataDir). */
  artifacts?: ArtifactBackend;
  onProgress?: (phase: string, fraction: number) => void;
}

/**
 * Restores a backup into an empty database and data directory. Before anything is written, the manifest
 * is authenticated and every part's size and SHA-256 checked, so a wrong key, a tampered or missing part,
 * or a backup from a newer schema is refused naming what. Then: this code's migrations up to the backup's
 * schema version, its partitions, the keyring and every table in foreign-key order in one transaction
 * (each part authenticated chunk by chunk as it streams and its rows counted and hashed against the
 * manifest), the sequences as they were, then each table read back and compared, then the files, and
 * finally the later migrations and the app role's grants (audit_log: SELECT and INSERT only again).
 */
export async function restoreBackup(opts: RestoreOptions): Promise<RestoreReport> {
  const key = backupKey(opts.env, opts.masterKey);
  const manifest = readManifest(opts.backupDir, key);
  const code = codeSchemaVersion();
  if (manifest.schema.when > code.when) {
    throw new Error(
      `Backup ${manifest.id} is from a newer schema (${manifest.schema.tag}) than this code's migrations (${code.tag}): restore it with that release or later`,
    );
  }
  const progress = opts.onProgress ?? (() => {});
  progress('checking parts', 0);
  await checkParts(opts.backupDir, manifest);

  const objects = await databaseObjects(opts.db.$client);
  if (objects.length) throw new Error(`The target database is not empty (it has ${objects.join(', ')}…): restore only into an empty database`);
  const leftovers = dataDirLeftovers(opts.dataDir, opts.allowInDataDir);
  if (leftovers.length) throw new Error(`The data directory ${opts.dataDir} is not empty (${leftovers.slice(0, 5).join(', ')}…): restore only into an empty one`);
  const store = opts.artifacts ?? backendForDataDir(opts.dataDir);
  for (const f of manifest.files.filter((f) => f.store === 'artifacts')) {
    checkKey(f.path);
    if (await store.head(f.path)) throw new Error(`The artifact store ${store.where} already holds ${f.path}: restore only into a store without the backup's objects`);
  }

  progress('schema', 0.05);
  await migrateTo(opts.db, manifest.schema.when);
  const partsKey = backupSubkeys(key.key, manifest.id).parts;
  const client = await opts.db.$client.connect();
  let shreddedKeys = 0;
  try {
    await client.query('BEGIN');
    for (const s of STABLE_TEXT_SETTINGS) await client.query(s);
    await createPartitions(client, manifest);
    // Rows the migrations seeded (the roles) are the backup's to give: deleted first, referencing tables before referenced.
    for (const table of [...manifest.loadOrder].reverse()) {
      const { rows } = await client.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM public.${ident(table)}) AS any`);
      if (rows[0]!.any) await client.query(`DELETE FROM public.${ident(table)}`);
    }
    const tables = new Map(manifest.tables.map((t) => [t.table, t]));
    for (const [i, table] of manifest.loadOrder.entries()) {
      progress(`loading ${table}`, 0.1 + (0.5 * i) / manifest.loadOrder.length);
      if (table === KEYRING_TABLE) {
        shreddedKeys = await loadKeyring(client, opts.backupDir, manifest, key.key);
        continue;
      }
      const t = tables.get(table);
      if (!t) throw new Error(`Backup part manifest: table ${table} is in the load order but has no part`);
      const hasher = new RowHasher();
      const source = Readable.from(
        (async function* () {
          for await (const chunk of readPart(partFile(opts.backupDir, t.part), partsKey, `${manifest.id}/${t.part}`, t.part)) {
            hasher.update(chunk);
            yield chunk;
          }
        })(),
      );
      await pipeline(source, client.query(copyFrom(`COPY public.${ident(table)} (${t.columns.map(ident).join(', ')}) FROM STDIN`)));
      if (hasher.rows !== t.rows || hasher.digest() !== t.rowsHash) throw new PartError(t.part, `table ${table} does not match the manifest's row count or hash`);
    }
    for (const s of manifest.sequences) {
      await client.query(`SELECT setval($1::regclass, $2::bigint, $3)`, [`public.${ident(s.name)}`, s.lastValue, s.isCalled]);
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }

  progress('comparing', 0.65);
  const checks = await compareTables(opts.db, manifest);
  const mismatched = checks.filter((c) => !c.match);
  if (mismatched.length) throw new Error(`Restored tables differ from the backup: ${mismatched.map((c) => `${c.table} (${c.rows}/${c.expectedRows} rows)`).join(', ')}`);

  progress('files', 0.75);
  const files = await restoreFiles(opts.backupDir, manifest, partsKey, opts.dataDir, store);

  if (opts.migrateForward !== false) {
    progress('migrating forward', 0.95);
    await applyMigrations(opts.db);
    if (opts.appRole) await grantAppRole(opts.db, opts.appRole);
  }
  progress('done', 1);
  return { backupId: manifest.id, schema: { backup: manifest.schema.tag, code: code.tag }, tables: checks, files, shreddedKeys };
}

/** Sizes and SHA-256 of every stored part against the (authenticated) manifest, before anything is restored. */
async function checkParts(backupDir: string, manifest: Manifest): Promise<void> {
  for (const p of [...manifest.tables, manifest.keyring, ...manifest.files]) {
    let d: { bytes: number; sha256: string };
    try {
      d = await fileDigest(partFile(backupDir, p.part));
    } catch (e) {
      throw new PartError(p.part, `missing (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
    const what = 'table' in p ? `table ${p.table}` : 'path' in p ? `file ${p.path}` : 'keyring';
    if (d.bytes !== p.cipherBytes || d.sha256 !== p.cipherSha256) throw new PartError(p.part, `${what}: its size or SHA-256 differs from the manifest (tampered or damaged)`);
  }
}

async function createPartitions(client: pg.PoolClient, manifest: Manifest): Promise<void> {
  for (const p of manifest.partitions) {
    const { rows } = await client.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [`public.${ident(p.name)}`]);
    if (rows[0]!.exists) continue;
    await client.query(`CREATE TABLE public.${ident(p.name)} PARTITION OF public.${ident(p.parent)} ${p.bound}`);
    for (const trigger of p.triggers) await client.query(trigger);
  }
}

/** The keyring into data_keys, and a placeholder no key opens for each key an erasure removed (rows still point at it). */
async function loadKeyring(client: pg.PoolClient, backupDir: string, manifest: Manifest, key: Buffer): Promise<number> {
  const rows = await readKeyring(backupDir, manifest, key);
  const hasher = new RowHasher();
  for (const row of rows) {
    hasher.addRow(row.json);
    await client.query(`INSERT INTO public.${ident(KEYRING_TABLE)} OVERRIDING SYSTEM VALUE SELECT * FROM json_populate_record(NULL::public.${ident(KEYRING_TABLE)}, $1::json)`, [row.json]);
  }
  if (hasher.rows !== manifest.keyring.keys || hasher.digest() !== manifest.keyring.rowsHash) throw new PartError(manifest.keyring.part, 'the keyring does not match the manifest');
  for (const id of manifest.keyring.removedKeyIds) {
    await client.query(`INSERT INTO public.${ident(KEYRING_TABLE)} (id, wrapped_key, master_fingerprint) OVERRIDING SYSTEM VALUE VALUES ($1, '\\x'::bytea, $2)`, [id, SHREDDED_FINGERPRINT]);
  }
  return manifest.keyring.removedKeyIds.length;
}

/** Each restored table read back with COPY and hashed the way the backup was: row counts and content, order aside. */
export async function compareTables(db: Db, manifest: Manifest): Promise<TableCheck[]> {
  const client = await db.$client.connect();
  const out: TableCheck[] = [];
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    for (const s of STABLE_TEXT_SETTINGS) await client.query(s);
    for (const t of manifest.tables) {
      const hasher = new RowHasher();
      await pipeline(
        client.query(copyTo(`COPY (SELECT ${t.columns.map(ident).join(', ')} FROM public.${ident(t.table)}) TO STDOUT`)),
        new Writable({
          write(chunk: Buffer, _e, done) {
            hasher.update(chunk);
            done();
          },
        }),
      );
      const hash = hasher.digest();
      out.push({ table: t.table, expectedRows: t.rows, rows: hasher.rows, expectedHash: t.rowsHash, hash, match: hasher.rows === t.rows && hash === t.rowsHash });
    }
    const keys = new RowHasher();
    const { rows } = await client.query<{ json: string }>(
      `SELECT row_to_json(k)::text AS json FROM public.${ident(KEYRING_TABLE)} k WHERE master_fingerprint <> $1 ORDER BY id`,
      [SHREDDED_FINGERPRINT],
    );
    for (const r of rows) keys.addRow(r.json);
    const hash = keys.digest();
    out.push({ table: KEYRING_TABLE, expectedRows: manifest.keyring.keys, rows: keys.rows, expectedHash: manifest.keyring.rowsHash, hash, match: keys.rows === manifest.keyring.keys && hash === manifest.keyring.rowsHash });
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  return out;
}

async function restoreFiles(backupDir: string, manifest: Manifest, partsKey: Buffer, dataDir: string, store: ArtifactBackend): Promise<{ count: number; bytes: number }> {
  let bytes = 0;
  const root = path.resolve(dataDir);
  for (const f of manifest.files) {
    if (f.store === 'artifacts') {
      // Back into the artifact store as the bytes it held (still sealed under their data keys).
      const hash = createHash('sha256');
      await store.write(
        checkKey(f.path),
        Readable.from(
          (async function* () {
            for await (const chunk of readPart(partFile(backupDir, f.part), partsKey, `${manifest.id}/${f.part}`, f.part)) {
              hash.update(chunk);
              yield chunk;
            }
          })(),
        ),
      );
      if (hash.digest('hex') !== f.plainSha256) {
        await store.delete(f.path);
        throw new PartError(f.part, `artifact ${f.path} does not match the manifest's hash`);
      }
      bytes += f.plainBytes;
      continue;
    }
    const target = path.resolve(root, f.path);
    if (!target.startsWith(root + path.sep)) throw new PartError(f.part, `file path ${f.path} leaves the data directory`);
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
    const staged = `${target}.restoring`;
    const out = fs.createWriteStream(staged, { mode: f.mode & 0o700 ? f.mode : 0o600 });
    const hash = createHash('sha256');
    await pipeline(
      Readable.from(
        (async function* () {
          for await (const chunk of readPart(partFile(backupDir, f.part), partsKey, `${manifest.id}/${f.part}`, f.part)) {
            hash.update(chunk);
            yield chunk;
          }
        })(),
      ),
      out,
    );
    if (hash.digest('hex') !== f.plainSha256) throw new PartError(f.part, `file ${f.path} does not match the manifest's hash`);
    fs.renameSync(staged, target);
    bytes += f.plainBytes;
  }
  return { count: manifest.files.length, bytes };
}
