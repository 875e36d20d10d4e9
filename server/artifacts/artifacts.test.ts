import { createHash, randomBytes } from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { makeUser } from '../testing/factories';
import { startTestS3Server, type TestS3Server } from '../testing/s3-server';
import { dataKeyForSealing } from '../security/encryption';
import { SealedFileWriter } from '../lifecycle/datasets/sealed-file';
import { ArtifactError, type ArtifactBackend } from './backend';
import { dirBackend } from './dir-backend';
import { s3Backend } from './s3-backend';
import { ArtifactStore, dataKeysOf } from './store';
import { FRAME_BYTES } from './sealed-format';
import { checkArtifactStore } from './config';
import { copyArtifacts } from './copy';
import { ConfigError, parseEnv } from '../core/env';

const MiB = 1024 * 1024;
/** A marker repeated through the plaintext: if the store kept plaintext anywhere, it would be found at rest. */
const MARKER = Buffer.from('ENCLAVE-PLAINTEXT-MARKER;');

/** Deterministic content of `bytes`, produced 64 KiB at a time (never held whole by the code under test). */
function content(bytes: number, seed = 1): { chunks: () => AsyncGenerator<Buffer>; all: Buffer } {
  const all = Buffer.alloc(bytes);
  let x = seed;
  for (let i = 0; i < bytes; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    all[i] = x >> 16;
  }
  for (let at = 0; at + MARKER.length < bytes; at += 4096) MARKER.copy(all, at);
  return {
    all,
    async *chunks() {
      for (let at = 0; at < bytes; at += 64 * 1024) yield all.subarray(at, Math.min(bytes, at + 64 * 1024));
    },
  };
}

async function read(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

async function rawOf(backend: ArtifactBackend, key: string): Promise<Buffer> {
  return read((await backend.read(key)) as AsyncIterable<Buffer>);
}

let t: TestDatabase;
let s3: TestS3Server;
let dir: string;
const masterKey = randomBytes(32);
let owner: string;

beforeAll(async () => {
  [t, s3, dir] = await Promise.all([createTestDatabase('artifacts'), startTestS3Server(), fs.mkdtemp(path.join(os.tmpdir(), 'enclave-artifacts-'))]);
  owner = (await makeUser(t.db)).id;
});
afterAll(async () => {
  await Promise.all([t?.drop(), s3?.stop(), dir && fs.rm(dir, { recursive: true, force: true })]);
});

const backends: Array<[string, () => ArtifactBackend, (key: string) => string]> = [
  ['directory', () => dirBackend(dir), (key) => path.join(dir, key)],
  ['S3 (s3rver)', () => s3Backend(s3.settings()), (key) => s3.objectFile(key)],
];

describe.each(backends)('the artifact store on %s', (_name, make, fileAtRest) => {
  let backend: ArtifactBackend;
  let store: ArtifactStore;
  const big = content(12 * MiB + 12345);
  beforeAll(() => {
    backend = make();
    store = new ArtifactStore(backend, dataKeysOf(t.db, masterKey));
  });
  afterAll(() => backend.close());

  it('streams a 12 MiB object in and reads it back whole, and only ciphertext is at rest', async () => {
    const before = s3.requests.length;
    const written = await store.put('datasets/big.bin', big.chunks(), { owner });
    expect(written.plainBytes).toBe(big.all.length);
    expect(written.sha256).toBe(createHash('sha256').update(big.all).digest('hex'));
    if (backend.kind === 's3') {
      // 5 MiB parts: a multipart upload of three parts, not one PUT of the whole.
      const parts = s3.requests.slice(before).filter((r) => r.method === 'PUT' && /partNumber=\d+/.test(r.url));
      expect(parts.length).toBe(3);
    }
    expect((await store.head('datasets/big.bin'))?.size).toBe(big.all.length);
    const back = await read(store.get('datasets/big.bin'));
    expect(back.equals(big.all)).toBe(true);

    const atRest = await fs.readFile(fileAtRest('datasets/big.bin'));
    expect(atRest.length).toBe(written.storedBytes);
    expect(atRest.includes(MARKER)).toBe(false);
    expect(atRest.includes(big.all.subarray(100_000, 100_064))).toBe(false);
  });

  it('a ranged read returns exactly the bytes asked for, fetching only the frames that hold them', async () => {
    const ranges = [
      { offset: 0, length: 10 },
      { offset: FRAME_BYTES - 5, length: 10 }, // across a frame boundary
      { offset: 3 * FRAME_BYTES + 17, length: 2 * FRAME_BYTES + 1 },
      { offset: big.all.length - 100, length: 1000 }, // past the end: cut at the end
      { offset: 5 * MiB + 1 },
      { offset: big.all.length + 10, length: 5 }, // wholly past the end: nothing
      { offset: 1234, length: 0 },
    ];
    for (const range of ranges) {
      const expected = big.all.subarray(range.offset, range.length === undefined ? undefined : range.offset + range.length);
      const before = s3.requests.length;
      const got = await read(store.get('datasets/big.bin', { range }));
      expect(got.equals(expected), JSON.stringify(range)).toBe(true);
      if (backend.kind === 's3' && range.offset === FRAME_BYTES - 5) {
        // Two frames (about 2 MiB) asked of S3 with a Range header, not the 12 MiB object.
        const ranged = s3.requests.slice(before).filter((r) => r.method === 'GET' && r.range);
        const [, from, to] = /bytes=(\d+)-(\d+)/.exec(ranged.at(-1)!.range!)!.map(Number);
        expect(to! - from! + 1).toBeLessThan(2 * FRAME_BYTES + 100);
      }
    }
  });

  it('detects a flipped byte at rest, a cut-off object and an altered header', async () => {
    await store.put('datasets/tamper.bin', content(3 * MiB, 7).chunks(), { owner });
    const file = fileAtRest('datasets/tamper.bin');
    const original = await fs.readFile(file);
    const flipped = Buffer.from(original);
    flipped[original.length - 2 * MiB] ^= 1; // inside the second frame
    await fs.writeFile(file, flipped);
    await expect(read(store.get('datasets/tamper.bin'))).rejects.toMatchObject({ code: 'CORRUPT', message: expect.stringMatching(/frame 1 does not authenticate/) });
    // A range in an untouched frame still reads; one in the altered frame does not.
    expect((await read(store.get('datasets/tamper.bin', { range: { offset: 10, length: 10 } }))).length).toBe(10);
    await expect(read(store.get('datasets/tamper.bin', { range: { offset: FRAME_BYTES + 10, length: 10 } }))).rejects.toBeInstanceOf(ArtifactError);

    // Cut at a frame boundary: the frame now last was not sealed as the last.
    await fs.writeFile(file, original.subarray(0, original.length - (original.length - 74) % (FRAME_BYTES + 21) - 0));
    await expect(read(store.get('datasets/tamper.bin'))).rejects.toMatchObject({ code: 'CORRUPT' });

    // The header's key altered: nothing opens.
    const badHeader = Buffer.from(original);
    badHeader[30] ^= 1;
    await fs.writeFile(file, badHeader);
    await expect(read(store.get('datasets/tamper.bin', { range: { offset: 0, length: 1 } }))).rejects.toMatchObject({ code: 'CORRUPT', message: expect.stringMatching(/key does not open/) });
  });

  it('lists by prefix, deletes, and says NOT_FOUND for what is not there', async () => {
    await store.put('exports/a/one.csv', Readable.from([Buffer.from('x,y\n1,2\n')]), { owner: null });
    await store.put('exports/a/two.csv', Readable.from([Buffer.from('')]), { owner: null });
    await store.put('exports/b.csv', Readable.from([Buffer.from('z')]), { owner: null });
    const listed = [];
    for await (const o of store.list('exports/a/')) listed.push(o.key);
    expect(listed.sort()).toEqual(['exports/a/one.csv', 'exports/a/two.csv']);
    expect((await read(store.get('exports/a/two.csv'))).length).toBe(0);
    expect((await read(store.get('exports/a/one.csv'))).toString()).toBe('x,y\n1,2\n');

    await store.delete('exports/a/one.csv');
    await store.delete('exports/a/one.csv'); // twice is fine
    expect(await store.head('exports/a/one.csv')).toBeNull();
    await expect(read(store.get('exports/a/one.csv'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a failed or aborted write leaves nothing under the key', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield* content(7 * MiB, 3).chunks();
      throw new Error('the uploader hung up');
    }
    await expect(store.put('datasets/failed.bin', failing(), { owner })).rejects.toThrow(/hung up/);
    expect(await store.head('datasets/failed.bin')).toBeNull();

    const writer = await store.writer('datasets/aborted.bin', { owner });
    await writer.write(Buffer.alloc(2 * MiB, 1));
    await writer.abort();
    expect(await store.head('datasets/aborted.bin')).toBeNull();
    const left = [];
    for await (const o of store.list('datasets/')) left.push(o.key);
    expect(left.filter((k) => /failed|aborted/.test(k))).toEqual([]);
  });

  it('refuses keys that could leave the store', async () => {
    for (const key of ['../escape', 'a/../../b', '/etc/passwd', 'a//b', 'a/./b', '', 'x\u0000y', 'a\\b', 'datasets/x.partial']) {
      await expect(store.put(key, Readable.from([Buffer.from('no')]), { owner: null }), JSON.stringify(key)).rejects.toThrow(/not allowed/);
      await expect(read(store.get(key))).rejects.toThrow(/not allowed/);
    }
  });

  it('re-seals an object\'s key under another data key; the content is unchanged', async () => {
    await store.put('datasets/rewrap.bin', content(MiB + 5, 9).chunks(), { owner: null });
    const installKey = await store.dataKeyId('datasets/rewrap.bin');
    const target = await dataKeyForSealing(t.db, masterKey, owner);
    expect(target.id).not.toBe(installKey);
    expect(await store.rewrap('datasets/rewrap.bin', target)).toBe(target.id);
    expect(await store.dataKeyId('datasets/rewrap.bin')).toBe(target.id);
    expect((await read(store.get('datasets/rewrap.bin'))).equals(content(MiB + 5, 9).all)).toBe(true);
  });

  it('reads a dataset file sealed before the store existed, copied byte for byte', async () => {
    const legacy = path.join(dir, `legacy-${backend.kind}.enc`);
    const w = await SealedFileWriter.create(legacy, await dataKeyForSealing(t.db, masterKey, owner));
    const data = content(2 * MiB + 3, 11).all;
    await w.write(data.subarray(0, 700_000));
    await w.write(data.subarray(700_000));
    await w.finish();
    await backend.write('datasets/legacy.jsonl.enc', Readable.from([await fs.readFile(legacy)]));
    expect((await read(store.get('datasets/legacy.jsonl.enc'))).equals(data)).toBe(true);
    expect((await read(store.get('datasets/legacy.jsonl.enc', { range: { offset: MiB - 1, length: 3 } }))).equals(data.subarray(MiB - 1, MiB + 2))).toBe(true);
  });
});

it('copies the data directory\'s datasets into S3 as they are, readable there, and a second run copies nothing', async () => {
  const legacyDir = await fs.mkdtemp(path.join(os.tmpdir(), 'enclave-legacy-'));
  const target = s3Backend(s3.settings({ prefix: 'install-2' }));
  try {
    await fs.mkdir(path.join(legacyDir, 'datasets'));
    const w = await SealedFileWriter.create(path.join(legacyDir, 'datasets', 'old.jsonl.enc'), await dataKeyForSealing(t.db, masterKey, owner));
    const data = content(1_500_000, 21).all;
    await w.write(data);
    await w.finish();
    await fs.writeFile(path.join(legacyDir, 'datasets', 'old.jsonl.enc.1a2b.partial'), 'half'); // a write that never finished
    expect(await copyArtifacts(dirBackend(legacyDir), target, 'datasets/')).toEqual({ copied: 1, skipped: 0, bytes: (await fs.stat(path.join(legacyDir, 'datasets', 'old.jsonl.enc'))).size });
    expect(fsSync.existsSync(path.join(s3.directory, s3.bucket, 'install-2', 'datasets', 'old.jsonl.enc._S3rver_object'))).toBe(true);
    expect((await read(new ArtifactStore(target, dataKeysOf(t.db, masterKey)).get('datasets/old.jsonl.enc'))).equals(data)).toBe(true);
    expect(await copyArtifacts(dirBackend(legacyDir), target, 'datasets/')).toEqual({ copied: 0, skipped: 1, bytes: 0 });
  } finally {
    await target.close();
    await fs.rm(legacyDir, { recursive: true, force: true });
  }
});

describe('S3 settings that cannot work fail with a message, not a stack', () => {
  // s3rver checks the access key id but not a SigV4 signature, so a wrong secret alone would pass here: the
  // wrong credentials are an unknown key id (InvalidAccessKeyId, as AWS answers).
  it('wrong credentials', async () => {
    const backend = s3Backend(s3.settings({ credentials: { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'not-the-secret' } }));
    await expect(backend.check()).rejects.toMatchObject({ code: 'DENIED', message: expect.stringMatching(/refused the credentials for bucket enclave-test/) });
    const unknown = s3Backend(s3.settings({ credentials: { accessKeyId: 'NOBODY', secretAccessKey: 'x' } }));
    await expect(unknown.write('a/b', Readable.from([Buffer.from('x')]))).rejects.toMatchObject({ code: 'DENIED' });
  });

  it('a bucket that does not exist', async () => {
    const backend = s3Backend(s3.settings({ bucket: 'no-such-bucket' }));
    await expect(backend.check()).rejects.toMatchObject({ code: 'NO_BUCKET', message: expect.stringMatching(/bucket no-such-bucket does not exist at http:\/\/127\.0\.0\.1:\d+/) });
  });

  it('checked at start from the settings: one line naming the store and the cause', async () => {
    const settings = { ENCLAVE_DATA_DIR: dir, ENCLAVE_ARTIFACTS: 's3', ENCLAVE_S3_ENDPOINT: s3.endpoint, ENCLAVE_S3_FORCE_PATH_STYLE: 'true', ENCLAVE_S3_ACCESS_KEY_ID: 'S3RVER', ENCLAVE_S3_SECRET_ACCESS_KEY: 'S3RVER' };
    await expect(checkArtifactStore(parseEnv({ ...settings, ENCLAVE_S3_BUCKET: 'missing-bucket' }))).rejects.toThrow(
      new ConfigError(`Artifact store s3://missing-bucket/ at ${s3.endpoint}: The S3 bucket missing-bucket does not exist at ${s3.endpoint} (ENCLAVE_S3_BUCKET): create it, or fix the name`),
    );
    expect(await checkArtifactStore(parseEnv({ ...settings, ENCLAVE_S3_BUCKET: s3.bucket }))).toBe(`s3://${s3.bucket}/ at ${s3.endpoint}`);
    await expect(checkArtifactStore(parseEnv({ ...settings, ENCLAVE_S3_SECRET_ACCESS_KEY: '', ENCLAVE_S3_BUCKET: s3.bucket }))).rejects.toThrow(/set both, or neither/);
    expect(() => parseEnv({ ENCLAVE_ARTIFACTS: 's3', ENCLAVE_S3_BUCKET: 'Bad_Bucket' })).toThrow(/ENCLAVE_S3_BUCKET: must be an S3 bucket name/);
    await expect(checkArtifactStore(parseEnv({ ENCLAVE_DATA_DIR: dir, ENCLAVE_ARTIFACTS: 's3' }))).rejects.toThrow(/ENCLAVE_S3_BUCKET: required with ENCLAVE_ARTIFACTS=s3/);
  });

  it('an endpoint nobody answers at', async () => {
    const backend = s3Backend(s3.settings({ endpoint: 'http://127.0.0.1:1' }));
    await expect(backend.check()).rejects.toMatchObject({ code: 'UNREACHABLE', message: expect.stringMatching(/cannot be reached \(ECONNREFUSED\)/) });
  });

  it('asks S3 for server-side encryption when set, on top of its own sealing', async () => {
    const store = new ArtifactStore(s3Backend(s3.settings({ sse: { mode: 'AES256' } })), dataKeysOf(t.db, masterKey));
    const before = s3.requests.length;
    await store.put('sse/one.bin', content(6 * MiB, 5).chunks(), { owner: null });
    const started = s3.requests.slice(before).filter((r) => r.method === 'POST' && /uploads/.test(r.url));
    expect(started.map((r) => r.sse)).toEqual(['AES256']);
    expect((await read(store.get('sse/one.bin'))).equals(content(6 * MiB, 5).all)).toBe(true);
  });
});
