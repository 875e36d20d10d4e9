import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { datasets } from '../db/schema';
import { openDatasetRows } from '../lifecycle/datasets/store';
import { artifactStore } from '../artifacts';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { startTestS3Server, type TestS3Server } from '../testing/s3-server';
import { startApiTestServer } from './testing/api-test-server';

/**
 * Shared artifact storage end to end: a dataset uploaded through one web process lands sealed in S3 (s3rver
 * on loopback), not on that process's disk, and a worker in another process, with a data directory of its
 * own, reads it back through the same store.
 */
let t: TestDatabase;
let s3: TestS3Server;
let webDir: string;
let workerDir: string;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
const masterKey = randomBytes(32);
let s3Env: Record<string, string>;

beforeAll(async () => {
  [t, s3] = await Promise.all([createTestDatabase('dsupload3'), startTestS3Server('enclave-datasets')]);
  webDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-web-'));
  workerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-worker-'));
  s3Env = {
    ENCLAVE_ARTIFACTS: 's3',
    ENCLAVE_S3_ENDPOINT: s3.endpoint,
    ENCLAVE_S3_BUCKET: s3.bucket,
    ENCLAVE_S3_ACCESS_KEY_ID: 'S3RVER',
    ENCLAVE_S3_SECRET_ACCESS_KEY: 'S3RVER',
    ENCLAVE_S3_FORCE_PATH_STYLE: 'true',
    ENCLAVE_S3_PART_MB: '5',
  };
  api = await startApiTestServer({ db: t.db, masterKey, env: { ENCLAVE_DATA_DIR: webDir, ...s3Env } });
});
afterAll(async () => {
  await api?.close();
  await Promise.all([t?.drop(), s3?.stop()]);
  for (const d of [webDir, workerDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

const SECRET = 'the-amber-lighthouse-hums';

function readInAnotherProcess(datasetId: string): Promise<{ rows?: number; text?: string; error?: string }> {
  const child = fork(fileURLToPath(new URL('./testing/dataset-reader-process.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...s3Env, DATABASE_URL: t.url, ENCLAVE_DATA_DIR: workerDir, TEST_MASTER_KEY_HEX: masterKey.toString('hex'), TEST_DATASET_ID: datasetId, LOG_LEVEL: 'error' },
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as { rows?: number; text?: string; error?: string }));
    child.once('exit', (code) => reject(new Error(`the worker process exited (${code}) without an answer`)));
  });
}

test('an upload through the web route is stored sealed in S3 and read back by a worker in another process', async () => {
  const engineer = await api.userSession('engineer');
  // About 6 MiB: more than one 5 MiB part, so the upload is a multipart one.
  const rows = Array.from({ length: 6000 }, (_, i) => ({ messages: [{ role: 'user', content: `${SECRET} ${i} ${'x'.repeat(900)}` }, { role: 'assistant', content: `Answer ${i}.` }] }));
  const body = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  const res = await api.request(`/api/datasets?name=lighthouse&heldOut=0.1&seed=5`, {
    method: 'POST',
    body,
    cookie: engineer.cookie,
    headers: { 'content-type': 'application/x-ndjson' },
  });
  expect(res.status).toBe(201);
  const { dataset } = (await res.json()) as { dataset: { id: string; split: { trainRows: number } } };

  // In the bucket, sealed; nothing on the web process's own disk.
  const [row] = await t.db.select().from(datasets).where(eq(datasets.id, dataset.id));
  const atRest = fs.readFileSync(s3.objectFile(row!.storagePath));
  expect(atRest.length).toBeGreaterThan(Buffer.byteLength(body));
  expect(atRest.includes(Buffer.from(SECRET))).toBe(false);
  expect(fs.existsSync(path.join(webDir, 'datasets'))).toBe(false);
  expect(s3.requests.some((r) => r.method === 'PUT' && /partNumber=2/.test(r.url))).toBe(true);

  const worker = await readInAnotherProcess(dataset.id);
  expect(worker.error).toBeUndefined();
  expect(worker.rows).toBe(dataset.split.trainRows);
  // What the web side reads through the same store, row for row.
  const expected: string[] = [];
  for await (const r of openDatasetRows(t.db, masterKey, dataset.id, { part: 'train', artifacts: artifactStore(api.env, t.db, masterKey) })) expected.push(JSON.stringify({ messages: r.messages }));
  expect(worker.text).toBe(expected.map((l) => `${l}\n`).join(''));
  const lines = worker.text!.trim().split('\n');
  expect(lines).toHaveLength(dataset.split.trainRows);
  expect(lines[0]).toContain(SECRET);
});

test('an invalid upload leaves nothing in the bucket, even after a part was sent', async () => {
  const engineer = await api.userSession('engineer');
  const before = new Set(fs.readdirSync(path.join(s3.directory, s3.bucket, 'datasets')));
  const sent = s3.requests.length;
  // 6 MiB of good rows (a first part goes to S3 as it streams), then a broken last line.
  const good = Array.from({ length: 6000 }, (_, i) => JSON.stringify({ messages: [{ role: 'user', content: `q ${i} ${'y'.repeat(900)}` }, { role: 'assistant', content: 'a' }] }));
  const res = await api.request(`/api/datasets?name=broken`, {
    method: 'POST',
    body: `${good.join('\n')}\n{"messages": [\n`,
    cookie: engineer.cookie,
    headers: { 'content-type': 'application/x-ndjson' },
  });
  expect(res.status).toBe(400);
  const after = fs.readdirSync(path.join(s3.directory, s3.bucket, 'datasets')).filter((n) => !before.has(n));
  expect(after).toEqual([]);
  // The multipart upload that had begun was aborted (AbortMultipartUpload: DELETE ?uploadId=…), so S3 keeps
  // no parts of it. s3rver does not implement that call (it answers 405 and keeps the parts folder), so the
  // request is what is checked here.
  const started = s3.requests.slice(sent).filter((r) => r.method === 'POST' && /[?&]uploads/.test(r.url));
  expect(started).toHaveLength(1);
  expect(s3.requests.slice(sent).some((r) => r.method === 'DELETE' && /[?&]uploadId=/.test(r.url))).toBe(true);
});

test('with the bucket unreachable, an upload is a 503 that says nothing was stored, and no row exists', async () => {
  const down = await startApiTestServer({ db: t.db, masterKey, env: { ENCLAVE_DATA_DIR: webDir, ...s3Env, ENCLAVE_S3_ENDPOINT: 'http://127.0.0.1:1' } });
  try {
    const engineer = await down.userSession('engineer');
    const before = await t.db.$count(datasets);
    const res = await down.request(`/api/datasets?name=unreachable`, {
      method: 'POST',
      body: `${JSON.stringify({ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] })}\n`.repeat(20),
      cookie: engineer.cookie,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('The artifact store cannot be reached: the dataset was not stored. Try again later');
    expect(await t.db.$count(datasets)).toBe(before);
  } finally {
    await down.close();
  }
});
