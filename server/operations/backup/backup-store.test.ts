import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ArtifactStore, closeArtifactBackends, dataKeysOf, dirBackend, s3Backend, type ArtifactBackend } from '../../artifacts';
import { dataKeys } from '../../db/schema';
import { Conversations } from '../../chat/conversations';
import { Messages } from '../../chat/messages';
import type { Env } from '../../core/env';
import { ingestDataset } from '../../lifecycle/datasets/ingest';
import { openDatasetRows } from '../../lifecycle/datasets/store';
import { createEmptyTestDatabase, createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeUser } from '../../testing/factories';
import { startTestS3Server, type TestS3Server } from '../../testing/s3-server';
import { runEnclave } from '../../../bin/testing/cli';
import { runDrill } from './drill';
import { removeKeysFromBackups } from './keyring';
import { listBackups } from './list';
import { backupPlace, listBackupIds, storePlace, type BackupPlace } from './place';
import { backupAndPrune } from './scheduled';

/**
 * Backups kept in the artifact store (issue 14, part 2): with ENCLAVE_ARTIFACTS=s3 (and no
 * ENCLAVE_BACKUP_DIR) `enclave backup` and the daily task write there, and list, drill, restore and the
 * erasure's keyring rewrite read from there, so any host of the fleet finds every backup. Against s3rver
 * on loopback and a shared directory; across processes with the real `enclave` command.
 */
let src: TestDatabase;
let s3: TestS3Server;
let work: string;
const masterKey = randomBytes(32);
const SECRET = 'the-violet-harbour-sleeps';
const targets: TestDatabase[] = [];
let datasetKey: string;
let shreddable: { userId: string; keyId: number };

const baseEnv = (dataDir: string) =>
  ({ dataDir, ENCLAVE_BACKUP_DIR: undefined, ENCLAVE_BACKUP_KEY_FILE: undefined, ENCLAVE_MASTER_KEY_FILE: undefined, ENCLAVE_AUDIT_ANCHOR_DIR: undefined }) as unknown as Env;

/** The install the command-line test runs: its own prefix in the bucket, apart from the in-process tests'. */
const CLI_PREFIX = 'install';
const s3Env = () => ({
  ENCLAVE_S3_PREFIX: CLI_PREFIX,
  ENCLAVE_ARTIFACTS: 's3',
  ENCLAVE_S3_ENDPOINT: s3.endpoint,
  ENCLAVE_S3_BUCKET: s3.bucket,
  ENCLAVE_S3_ACCESS_KEY_ID: 'S3RVER',
  ENCLAVE_S3_SECRET_ACCESS_KEY: 'S3RVER',
  ENCLAVE_S3_FORCE_PATH_STYLE: 'true',
});

beforeAll(async () => {
  [src, s3] = await Promise.all([createTestDatabase('backupstore'), startTestS3Server('enclave-backups')]);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-backup-store-'));
  // A dataset in the S3 store, and a person's sealed conversation (erased later, from every backup).
  const owner = await makeUser(src.db);
  const rows = Array.from({ length: 30 }, (_, i) => JSON.stringify({ messages: [{ role: 'user', content: `${SECRET} ${i}` }, { role: 'assistant', content: `ok ${i}` }] }));
  const backend = s3Backend(s3.settings({ prefix: CLI_PREFIX }));
  const ingested = await ingestDataset(src.db, masterKey, new ArtifactStore(backend, dataKeysOf(src.db, masterKey)), Readable.from([Buffer.from(rows.join('\n') + '\n')]), {
    ownerId: owner.id,
    name: 'harbour',
    heldOutFraction: 0.2,
    seed: 3,
    maxBytes: 1 << 20,
  });
  await backend.close();
  if (!ingested.ok) throw new Error(ingested.message);
  datasetKey = `datasets/${ingested.dataset.id}.jsonl.enc`;
  const person = await makeUser(src.db);
  const conv = await new Conversations(src.db, masterKey, person.id).create({ title: 'to be erased' });
  await new Messages(src.db, masterKey, person.id).add({ conversationId: conv.id, parentId: null, role: 'user', content: `${SECRET} in a conversation` });
  const [key] = await src.db.select({ id: dataKeys.id }).from(dataKeys).where(eq(dataKeys.ownerUserId, person.id));
  shreddable = { userId: person.id, keyId: key!.id };
}, 60_000);
afterAll(async () => {
  await closeArtifactBackends();
  await Promise.all([src?.drop(), s3?.stop(), ...targets.map((t) => t.drop())]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the configured place: the artifact store with S3 and no ENCLAVE_BACKUP_DIR, a directory otherwise', () => {
  const e = { ...baseEnv(path.join(work, 'd')), ...s3Env() } as unknown as Env;
  expect(backupPlace(e)).toMatchObject({ kind: 'store', where: expect.stringContaining(`s3://${s3.bucket}`) });
  expect(backupPlace({ ...e, ENCLAVE_BACKUP_DIR: '/srv/backups' })).toMatchObject({ kind: 'dir', root: '/srv/backups' });
  expect(backupPlace(e, { to: '/mnt/b' })).toMatchObject({ kind: 'dir', root: '/mnt/b' });
  expect(backupPlace(baseEnv('/var/lib/enclave'))).toMatchObject({ kind: 'dir', root: '/var/lib/enclave/backups' });
});

describe.each([
  ['S3 (s3rver)', () => s3Backend(s3.settings({ prefix: `in-process-${randomBytes(3).toString('hex')}` }))],
  ['a shared directory', () => dirBackend(fs.mkdtempSync(path.join(work, 'shared-')))],
])('backups in the artifact store on %s', (_label, makeBackend: () => ArtifactBackend) => {
  let backend: ArtifactBackend;
  let place: BackupPlace;
  beforeAll(() => {
    backend = makeBackend();
    place = storePlace(backend);
  });
  afterAll(() => backend?.close());

  test('the daily task writes each backup into the store, keeps the newest N, and never carries a backup inside the next', async () => {
    const dataDir = fs.mkdtempSync(path.join(work, 'data-'));
    const runs: Awaited<ReturnType<typeof backupAndPrune>>[] = [];
    // The store's own objects are carried too (as with ENCLAVE_ARTIFACTS=s3, where place and store are one).
    for (let i = 0; i < 3; i++) runs.push(await backupAndPrune(src.db, baseEnv(dataDir), masterKey, { place, artifacts: backend, keep: 2, actor: 'maintenance' }));
    expect(runs[2]!.pruned).toEqual([runs[0]!.id]);
    expect(await listBackupIds(place)).toEqual([runs[1]!.id, runs[2]!.id]);
    const listed = await listBackups(baseEnv(dataDir), { place });
    expect(listed.root).toBe(place.where);
    expect(listed.backups.map((b) => b.id)).toEqual([runs[2]!.id, runs[1]!.id]);
    // Nothing of the pruned one is left; each backup is its manifest and its parts, sealed (ENCLBK01), never the secret.
    const keys: string[] = [];
    for await (const o of backend.list('backups/')) keys.push(o.key);
    expect(keys.filter((k) => k.includes(runs[0]!.id))).toEqual([]);
    expect(keys.every((k) => /^backups\/enclave-[A-Za-z0-9-]+\/(manifest\.json|parts\/[a-z0-9-]+\.enc)$/.test(k))).toBe(true);
    const part = keys.find((k) => k.includes(runs[2]!.id) && k.endsWith('.enc'))!;
    const chunks: Buffer[] = [];
    for await (const c of (await backend.read(part)) as AsyncIterable<Buffer>) chunks.push(c);
    const bytes = Buffer.concat(chunks);
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('ENCLBK01');
    expect(bytes.includes(Buffer.from(SECRET))).toBe(false);
    // The third backup did not carry the first two (they were objects of the same store when it ran).
    expect(listed.backups[0]!.files).toBe(listed.backups[1]!.files);
  }, 90_000);

  test('a drill reads the newest backup from the store; an erasure rewrites its keyring there', async () => {
    const [newest] = (await listBackupIds(place)).slice(-1);
    const drill = await runDrill({ backup: { id: newest!, place }, serverUrl: src.url, env: baseEnv(work), masterKey });
    expect([drill.error, drill.ok]).toEqual([undefined, true]);
    expect(drill.conversations).toMatchObject({ total: 1, decrypted: 1, shredded: 0, failed: 0 });

    const result = await removeKeysFromBackups([shreddable.keyId], { env: baseEnv(work), masterKey, place });
    expect(result).toEqual({ backups: 2, keysRemoved: 2 });
    const after = await runDrill({ backup: { id: newest!, place }, serverUrl: src.url, env: baseEnv(work), masterKey });
    expect(after.ok).toBe(true);
    expect(after.conversations).toMatchObject({ total: 1, decrypted: 0, shredded: 1, failed: 0 });
    // Only the rewritten keyring part is left of each backup's keyrings.
    const keyrings: string[] = [];
    for await (const o of backend.list(`backups/${newest}/parts/`)) if (o.key.includes('keyring-')) keyrings.push(o.key);
    expect(keyrings).toEqual([`backups/${newest}/parts/keyring-2.enc`]);
  }, 90_000);
});

test('written by one process, listed, drilled and restored by others with data directories of their own', async () => {
  const cliEnv = (dataDir: string, databaseUrl = src.url) => ({ ...s3Env(), DATABASE_URL: databaseUrl, ENCLAVE_DATA_DIR: dataDir, ENCLAVE_MASTER_KEY: masterKey.toString('hex') });
  const [hostA, hostB, hostC] = ['a', 'b', 'c'].map((h) => fs.mkdtempSync(path.join(work, `host-${h}-`)));

  const made = await runEnclave(['backup'], cliEnv(hostA!));
  // (stderr may carry the AWS SDK's warning about Node 20: the exit code and the output are what count.)
  expect(made.exitCode, made.stderr).toBe(0);
  const id = /Backup (enclave-[A-Za-z0-9-]+) written to s3:\/\//.exec(made.stdout)?.[1];
  expect(id).toBeTruthy();
  expect(fs.readdirSync(hostA!).filter((n) => n === 'backups')).toEqual([]);

  const listed = await runEnclave(['backup', 'list', '--json'], cliEnv(hostB!));
  expect(listed.exitCode, listed.stderr).toBe(0);
  const list = JSON.parse(listed.stdout) as { root: string; backups: { id: string; files: number }[] };
  expect(list.backups.map((b) => b.id)).toContain(id);

  const drilled = await runEnclave(['backup', 'drill', id!, '--json'], cliEnv(hostB!));
  expect(JSON.parse(drilled.stdout)).toMatchObject({ backupId: id, ok: true });

  // The bucket loses the dataset; a restore on a third host, into an empty database, brings it back readable.
  const loser = s3Backend(s3.settings({ prefix: CLI_PREFIX }));
  await loser.delete(datasetKey);
  const target = await createEmptyTestDatabase('backupstorer', 4);
  targets.push(target);
  const restored = await runEnclave(['restore', id!], cliEnv(hostC!, target.url));
  expect(restored.exitCode, restored.stderr).toBe(0);
  expect(restored.stdout).toMatch(new RegExp(`^Restored ${id} `));
  const back = [];
  const datasetId = datasetKey.slice('datasets/'.length, -'.jsonl.enc'.length);
  for await (const r of openDatasetRows(target.db, masterKey, datasetId, { part: 'all', artifacts: new ArtifactStore(loser, dataKeysOf(target.db, masterKey)) })) back.push(r);
  await loser.close();
  expect(back).toHaveLength(30);
  expect(back[4]!.messages[0]!.content).toBe(`${SECRET} 4`);
}, 180_000);
