import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { datasets, jobs } from '../../db/schema';
import { TEST_MODEL_PATH } from '../../engines/llamacpp/test-support';
import { dataKeyForOpening, dataKeyForSealing } from '../../security/encryption';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeJob, makeModelVersion, makeUser } from '../../testing/factories';
import { Datasets } from './access';
import { ingestDataset } from './ingest';
import { readSealedFile, SealedFileWriter } from './sealed-file';
import { isHeldOut } from './split';
import { openDatasetRows, writeDatasetPart } from './store';

let t: TestDatabase;
let dir: string;
const masterKey = randomBytes(32);
beforeAll(async () => {
  t = await createTestDatabase('dsstore');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-ds-store-'));
});
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await t?.drop();
});

const row = (i: number) => ({ instruction: `Tell story ${i}.`, input: i % 2 ? `About a cat named Tom ${i}.` : '', output: `Once upon a time, story ${i} happened.` });
const jsonl = (n: number) => Array.from({ length: n }, (_, i) => JSON.stringify(row(i))).join('\n') + '\n';

async function ingest(text: string, over: Partial<Parameters<typeof ingestDataset>[4]> = {}) {
  const owner = await makeUser(t.db, { role: 'engineer' });
  // Small chunks, as a network upload arrives: lines are split across them.
  const source = Readable.from(Buffer.from(text), { objectMode: false, highWaterMark: 97 });
  const result = await ingestDataset(t.db, masterKey, dir, source, { ownerId: owner.id, name: 'stories', heldOutFraction: 0.25, seed: 7, maxBytes: 1 << 30, ...over });
  return { owner, result };
}

describe('sealed files', () => {
  test('round-trip across many frames; a flipped byte or a cut-off end is an error, not data', async () => {
    const key = await dataKeyForSealing(t.db, masterKey);
    const file = path.join(dir, 'frames.enc');
    const plain = randomBytes(2.5 * 1024 * 1024 + 17);
    const writer = await SealedFileWriter.create(file, key);
    for (let at = 0; at < plain.length; at += 100_000) await writer.write(plain.subarray(at, at + 100_000));
    await writer.finish();
    const sealed = fs.readFileSync(file);
    expect(sealed.includes(plain.subarray(0, 64))).toBe(false);
    const keyFor = (id: number) => dataKeyForOpening(t.db, masterKey, id);
    const read = async (f: string) => {
      const chunks: Buffer[] = [];
      for await (const c of readSealedFile(f, keyFor)) chunks.push(c);
      return Buffer.concat(chunks);
    };
    expect((await read(file)).equals(plain)).toBe(true);

    const flipped = path.join(dir, 'flipped.enc');
    const copy = Buffer.from(sealed);
    copy[copy.length - 10]! ^= 1;
    fs.writeFileSync(flipped, copy);
    await expect(read(flipped)).rejects.toThrow(/auth/i);

    // Cut exactly at a frame boundary: every remaining frame is intact, only the final one is missing.
    const cut = path.join(dir, 'cut.enc');
    const headerBytes = 8 + 6 + 60;
    fs.writeFileSync(cut, sealed.subarray(0, headerBytes + 2 * (5 + 16 + 1024 * 1024)));
    await expect(read(cut)).rejects.toThrow(/cut short/);

    await expect(read(path.join(dir, 'frames.enc'))).resolves.toHaveLength(plain.length);
    // Another master key cannot open the file's data key.
    await expect(
      (async () => {
        for await (const _ of readSealedFile(file, (id) => dataKeyForOpening(t.db, randomBytes(32), id))) void _;
      })(),
    ).rejects.toThrow(/master key/);
  });
});

describe('stored datasets', () => {
  test('rows come back normalised, and the parts follow the recorded split exactly', async () => {
    const { result } = await ingest(jsonl(200));
    if (!result.ok) throw new Error(result.message);
    const id = result.dataset.id;
    const all = [];
    for await (const r of openDatasetRows(t.db, masterKey, id, { part: 'all', dataDir: dir })) all.push(r);
    expect(all).toHaveLength(200);
    expect(all[1]).toEqual({ index: 1, messages: [{ role: 'user', content: 'Tell story 1.\n\nAbout a cat named Tom 1.' }, { role: 'assistant', content: 'Once upon a time, story 1 happened.' }] });
    const held = [];
    for await (const r of openDatasetRows(t.db, masterKey, id, { part: 'heldOut', dataDir: dir })) held.push(r.index);
    const train = [];
    for await (const r of openDatasetRows(t.db, masterKey, id, { part: 'train', dataDir: dir })) train.push(r.index);
    expect(held.length).toBe(result.dataset.split.heldOutRows);
    expect(train.length).toBe(result.dataset.split.trainRows);
    expect([...held, ...train].sort((a, b) => a - b)).toEqual(all.map((r) => r.index));
    expect(held.every((i) => isHeldOut(i, { seed: 7, heldOutFraction: 0.25 }))).toBe(true);
    expect(held.length).toBeGreaterThan(30);
    expect(held.length).toBeLessThan(70);
  });

  test('writeDatasetPart writes trainer JSONL and evaluation text, mode 0600', async () => {
    const { result } = await ingest(jsonl(40));
    if (!result.ok) throw new Error(result.message);
    const out = path.join(dir, 'train.jsonl');
    const written = await writeDatasetPart(t.db, masterKey, result.dataset.id, 'train', out, 'jsonl-messages', { dataDir: dir });
    const lines = fs.readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(written.rows).toBe(result.dataset.split.trainRows);
    expect(lines).toHaveLength(written.rows);
    expect(JSON.parse(lines[0]!).messages[1].role).toBe('assistant');
    expect(fs.statSync(out).size).toBe(written.bytes);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);

    const text = path.join(dir, 'held.txt');
    const heldOut = await writeDatasetPart(t.db, masterKey, result.dataset.id, 'heldOut', text, 'text', { dataDir: dir });
    const content = fs.readFileSync(text, 'utf8');
    expect(content.match(/^Once upon a time, story \d+ happened\.$/gm)).toHaveLength(heldOut.rows);
    expect(content).toMatch(/^Tell story \d+\.\n(\nAbout a cat named Tom \d+\.\n)?Once upon a time, story \d+ happened\.\n/);
  });

  test('an unknown dataset id is NOT_FOUND, and a failed write leaves no output file', async () => {
    const out = path.join(dir, 'missing.jsonl');
    await expect(writeDatasetPart(t.db, masterKey, '00000000-0000-4000-8000-000000000000', 'all', out, 'text', { dataDir: dir })).rejects.toThrow(/not found/);
    await expect(writeDatasetPart(t.db, masterKey, 'not-a-uuid', 'all', out, 'text', { dataDir: dir })).rejects.toThrow(/not found/);
    expect(fs.existsSync(out)).toBe(false);
  });

  test('tokens are counted by the GGUF version tokenizer when one is given, and labelled an estimate otherwise', async () => {
    const { version } = await makeModelVersion(t.db, { location: TEST_MODEL_PATH });
    const counted = await ingest(jsonl(10), { tokenizerVersionId: version.id });
    const estimated = await ingest(jsonl(10));
    if (!counted.result.ok || !estimated.result.ok) throw new Error('ingest failed');
    const [a] = await t.db.select().from(datasets).where(eq(datasets.id, counted.result.dataset.id));
    const [b] = await t.db.select().from(datasets).where(eq(datasets.id, estimated.result.dataset.id));
    expect(a!.stats.tokenizer).toMatchObject({ kind: 'model', versionId: version!.id, version: 'v1' });
    expect(a!.tokenizerVersionId).toBe(version!.id);
    expect(b!.stats.tokenizer).toMatchObject({ kind: 'estimate', method: 'chars/4' });
    const tokens = (s: Record<string, unknown>) => (s.tokens as { total: number }).total;
    expect(tokens(a!.stats)).toBeGreaterThan(0);
    expect(tokens(a!.stats)).not.toBe(tokens(b!.stats));
    const histogram = a!.stats.tokenHistogram as { le: number; count: number }[];
    expect(histogram.reduce((n, bucket) => n + bucket.count, 0)).toBe(10);
  });

  test('a partial file abandoned by a crashed upload is removed by the next upload; a fresh one is left alone', async () => {
    const datasetsDir = path.join(dir, 'datasets');
    fs.mkdirSync(datasetsDir, { recursive: true });
    const stale = path.join(datasetsDir, 'crashed.jsonl.enc.partial');
    const fresh = path.join(datasetsDir, 'in-flight.jsonl.enc.partial');
    fs.writeFileSync(stale, 'x');
    fs.writeFileSync(fresh, 'x');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    fs.utimesSync(stale, twoHoursAgo, twoHoursAgo);
    await ingest(jsonl(10));
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(fresh)).toBe(true);
    fs.rmSync(fresh);
  });

  test('a split that cannot be made stores nothing; delete is refused while a job uses the dataset', async () => {
    const before = fs.readdirSync(path.join(dir, 'datasets')).length;
    await expect(ingest(jsonl(1))).rejects.toThrow(/split cannot be made: a split needs at least 2 rows/);
    expect(fs.readdirSync(path.join(dir, 'datasets')).length).toBe(before);

    const { owner, result } = await ingest(jsonl(20));
    if (!result.ok) throw new Error(result.message);
    const mine = new Datasets(t.db, masterKey, { ...owner, role: 'engineer' }, dir);
    const job = await makeJob(t.db, { name: 'tune', ownerId: owner.id, datasetId: result.dataset.id });
    await expect(mine.delete(result.dataset.id)).rejects.toThrow(/job "tune" uses this dataset/);
    await t.db.delete(jobs).where(eq(jobs.id, job.id));
    await mine.delete(result.dataset.id);
    expect(fs.existsSync(path.join(dir, 'datasets', `${result.dataset.id}.jsonl.enc`))).toBe(false);
    await expect(mine.get(result.dataset.id)).rejects.toThrow(/not found/);
  });
});
