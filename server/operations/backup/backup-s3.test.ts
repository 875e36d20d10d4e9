import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ArtifactStore, dataKeysOf, s3Backend, type ArtifactBackend } from '../../artifacts';
import { ingestDataset } from '../../lifecycle/datasets/ingest';
import { openDatasetRows } from '../../lifecycle/datasets/store';
import { createEmptyTestDatabase, createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeUser } from '../../testing/factories';
import { startTestS3Server, type TestS3Server } from '../../testing/s3-server';
import { createBackup } from './create';
import { partFile } from './manifest';
import { restoreBackup } from './restore';

/**
 * With the artifact store in S3, datasets are no longer files of the data directory: a backup must carry
 * the store's objects, and a restore must put them back, or a restored install has rows whose files are gone.
 */
let src: TestDatabase;
let s3: TestS3Server;
let backend: ArtifactBackend;
let work: string;
const masterKey = randomBytes(32);
const env = { ENCLAVE_BACKUP_KEY_FILE: undefined, ENCLAVE_BACKUP_DIR: undefined, ENCLAVE_MASTER_KEY_FILE: undefined, ENCLAVE_AUDIT_ANCHOR_DIR: undefined };
const SECRET = 'the-copper-kettle-whistles';
const targets: TestDatabase[] = [];

beforeAll(async () => {
  [src, s3] = await Promise.all([createTestDatabase('backups3'), startTestS3Server('enclave-backup')]);
  backend = s3Backend(s3.settings());
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-backup-s3-'));
  fs.mkdirSync(path.join(work, 'data'));
});
afterAll(async () => {
  await backend?.close();
  await Promise.all([src?.drop(), s3?.stop(), ...targets.map((t) => t.drop())]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('a backup carries the S3 store\'s datasets, sealed, and a restore puts them back readable', async () => {
  const owner = await makeUser(src.db);
  const rows = Array.from({ length: 40 }, (_, i) => JSON.stringify({ messages: [{ role: 'user', content: `${SECRET} ${i}` }, { role: 'assistant', content: `ok ${i}` }] }));
  const ingested = await ingestDataset(src.db, masterKey, new ArtifactStore(backend, dataKeysOf(src.db, masterKey)), Readable.from([Buffer.from(rows.join('\n') + '\n')]), {
    ownerId: owner.id,
    name: 'kettle',
    heldOutFraction: 0.2,
    seed: 3,
    maxBytes: 1 << 20,
  });
  if (!ingested.ok) throw new Error(ingested.message);
  const key = `datasets/${ingested.dataset.id}.jsonl.enc`;
  const stored = fs.readFileSync(s3.objectFile(key));

  const { dir, manifest } = await createBackup({ db: src.db, env: { ...env, dataDir: path.join(work, 'data') }, masterKey, to: path.join(work, 'backups'), artifacts: backend });
  const part = manifest.files.find((f) => f.store === 'artifacts' && f.path === key);
  expect(part).toMatchObject({ plainBytes: stored.length });
  const sealed = fs.readFileSync(partFile(dir, part!.part));
  expect(sealed.includes(Buffer.from(SECRET))).toBe(false);
  expect(sealed.includes(stored.subarray(200, 264))).toBe(false);

  // The bucket loses the object; the backup brings it back, byte for byte, into an empty database.
  await backend.delete(key);
  const target = await createEmptyTestDatabase('backups3r', 4);
  targets.push(target);
  const report = await restoreBackup({ backupDir: dir, db: target.db, dataDir: path.join(work, 'restored'), env, masterKey, artifacts: backend });
  expect(report.files.count).toBe(manifest.files.length);
  expect(fs.readFileSync(s3.objectFile(key)).equals(stored)).toBe(true);
  const back = [];
  for await (const r of openDatasetRows(target.db, masterKey, ingested.dataset.id, { part: 'all', artifacts: new ArtifactStore(backend, dataKeysOf(target.db, masterKey)) })) back.push(r);
  expect(back).toHaveLength(40);
  expect(back[7]!.messages[0]!.content).toBe(`${SECRET} 7`);

  // A second restore into the same store would overwrite what is there: refused before anything is written.
  const again = await createEmptyTestDatabase('backups3a', 4);
  targets.push(again);
  await expect(restoreBackup({ backupDir: dir, db: again.db, dataDir: path.join(work, 'again'), env, masterKey, artifacts: backend })).rejects.toThrow(
    new RegExp(`already holds ${key}`),
  );
});
