import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kbChunks, kbDocuments, knowledgeBases } from '../db/schema';
import { normalise } from '../core/vectors';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { makeUser } from '../testing/factories';
import { exactTopK } from './exact-search';
import { sealBytes, sealJson, vectorBytes } from './sealed';
import { configureVectorIndex, flushVectorIndex, forgetVectors, forgetVectorsInMemory, nearestChunks } from './vector-index';

// The knowledge bases' approximate index against real PostgreSQL: it follows documents added, deleted and
// re-embedded; it is saved sealed beside the artifact directory and read back instead of rebuilt; a lost,
// corrupt or foreign file is rebuilt from the database.
const DIMS = 32;
let t: TestDatabase;
let dir: string;
const masterKey = randomBytes(32);
let ownerId: string;
let seed = 3;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
const vector = () => normalise(Float32Array.from({ length: DIMS }, rand));

beforeAll(async () => {
  t = await createTestDatabase('vectorindex');
  dir = await mkdtemp(path.join(os.tmpdir(), 'kb-index-'));
  configureVectorIndex({ dir, persistDelayMs: 10 });
  ownerId = (await makeUser(t.db)).id;
}, 60_000);

afterAll(async () => {
  configureVectorIndex({ dir: null });
  await t?.drop();
  await rm(dir, { recursive: true, force: true });
});

async function makeKb(model = 'embedder') {
  const [kb] = await t.db.insert(knowledgeBases).values({ ownerId, name: 'kb', embeddingModel: model }).returning();
  return { id: kb!.id, embeddingModel: model };
}

/** A ready document of `n` chunks with vectors; returns its id and the vectors by chunk id. */
async function addDoc(kb: { id: string; embeddingModel: string }, n: number) {
  const [doc] = await t.db
    .insert(kbDocuments)
    .values({ kbId: kb.id, nameEnc: await sealBytes(t.db, masterKey, ownerId, Buffer.from('doc')), mime: 'text/plain', size: 1, status: 'ready', chunkCount: n, embeddedModel: kb.embeddingModel })
    .returning();
  const vectors = Array.from({ length: n }, vector);
  const rows = await t.db
    .insert(kbChunks)
    .values(
      await Promise.all(
        vectors.map(async (v, ordinal) => ({
          documentId: doc!.id,
          kbId: kb.id,
          ordinal,
          charStart: 0,
          charEnd: 1,
          termCount: 0,
          contentEnc: await sealJson(t.db, masterKey, ownerId, { text: 'x', heading: [] }),
          vectorEnc: await sealBytes(t.db, masterKey, ownerId, vectorBytes(v)),
        })),
      ),
    )
    .returning({ id: kbChunks.id, ordinal: kbChunks.ordinal });
  return { id: doc!.id, vectors: new Map(rows.map((r) => [r.id, vectors[r.ordinal]!])) };
}

function exact(all: Map<string, Float32Array>, query: Float32Array, k: number): string[] {
  const ids = [...all.keys()];
  const matrix = new Float32Array(ids.length * DIMS);
  ids.forEach((id, i) => matrix.set(all.get(id)!, i * DIMS));
  return exactTopK(matrix, DIMS, query, k).map((h) => ids[h.index]!);
}

const indexFiles = async (kbId: string) => readdir(path.join(dir, kbId)).catch(() => [] as string[]);

describe('the knowledge vector index', () => {
  it('follows documents added, deleted and re-embedded, answering as exact search does', async () => {
    const kb = await makeKb();
    const all = new Map<string, Float32Array>();
    const a = await addDoc(kb, 300);
    a.vectors.forEach((v, id) => all.set(id, v));
    const q = vector();
    expect((await nearestChunks(t.db, masterKey, kb, q, 5)).map((h) => h.chunkId)).toEqual(exact(all, q, 5));

    const b = await addDoc(kb, 200);
    b.vectors.forEach((v, id) => all.set(id, v));
    const q2 = vector();
    const found = await nearestChunks(t.db, masterKey, kb, q2, 10);
    expect(found.map((h) => h.chunkId)).toEqual(exact(all, q2, 10));
    expect(found[0]!.score).toBeCloseTo(all.get(found[0]!.chunkId)!.reduce((s, x, i) => s + x * q2[i]!, 0), 2);

    // Deleted: its chunks never come back, even when the query is one of them.
    await t.db.delete(kbDocuments).where(eq(kbDocuments.id, a.id));
    const [gone] = [...a.vectors.values()];
    const afterDelete = await nearestChunks(t.db, masterKey, kb, gone!, 20);
    expect(afterDelete).toHaveLength(20);
    expect(afterDelete.every((h) => b.vectors.has(h.chunkId))).toBe(true);

    // Re-embedded by another model: the base's index is that model's alone (the old vectors are not comparable).
    await t.db.update(knowledgeBases).set({ embeddingModel: 'other' }).where(eq(knowledgeBases.id, kb.id));
    expect(await nearestChunks(t.db, masterKey, { id: kb.id, embeddingModel: 'other' }, q, 5)).toEqual([]);
    await t.db.update(kbDocuments).set({ embeddedModel: 'other', updatedAt: new Date() }).where(eq(kbDocuments.id, b.id));
    expect(await nearestChunks(t.db, masterKey, { id: kb.id, embeddingModel: 'other' }, q, 5)).toHaveLength(5);
    // A document not ready (still embedding) is not searched.
    const c = await addDoc({ id: kb.id, embeddingModel: 'other' }, 5);
    await t.db.update(kbDocuments).set({ status: 'embedding' }).where(eq(kbDocuments.id, c.id));
    const [cv] = [...c.vectors.values()];
    expect((await nearestChunks(t.db, masterKey, { id: kb.id, embeddingModel: 'other' }, cv!, 3)).some((h) => c.vectors.has(h.chunkId))).toBe(false);
  });

  it('is saved sealed and read back instead of rebuilt; a lost or corrupt file is rebuilt from PostgreSQL', async () => {
    const kb = await makeKb();
    const doc = await addDoc(kb, 400);
    const q = vector();
    const expected = exact(doc.vectors, q, 5);
    expect((await nearestChunks(t.db, masterKey, kb, q, 5)).map((h) => h.chunkId)).toEqual(expected);
    await flushVectorIndex();
    const [file] = await indexFiles(kb.id);
    expect(file).toMatch(/^[0-9a-f]{16}\.ivf$/);
    const sealed = await readFile(path.join(dir, kb.id, file!));
    // Sealed: neither a vector's float bytes nor the document id appear in the file.
    const [first] = [...doc.vectors.values()];
    expect(sealed.includes(Buffer.from(first!.buffer, first!.byteOffset, 16))).toBe(false);
    expect(sealed.includes(Buffer.from(doc.id))).toBe(false);

    // "Restart": memory dropped. With the vectors gone from the database the answer can only come from the file.
    forgetVectorsInMemory();
    await t.db.execute(sql`UPDATE kb_chunks SET vector_enc = NULL WHERE document_id = ${doc.id}`);
    expect((await nearestChunks(t.db, masterKey, kb, q, 5)).map((h) => h.chunkId)).toEqual(expected);

    // A corrupt file is not used: rebuilt from the database (which now holds no vectors: nothing found).
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 40]! ^= 0xff;
    await writeFile(path.join(dir, kb.id, file!), flipped);
    forgetVectorsInMemory();
    expect(await nearestChunks(t.db, masterKey, kb, q, 5)).toEqual([]);

    // A file of another base copied over this one's is refused too.
    const other = await makeKb();
    await addDoc(other, 50);
    await nearestChunks(t.db, masterKey, other, q, 1);
    await flushVectorIndex();
    const [otherFile] = await indexFiles(other.id);
    await writeFile(path.join(dir, kb.id, file!), await readFile(path.join(dir, other.id, otherFile!)));
    forgetVectorsInMemory();
    expect(await nearestChunks(t.db, masterKey, kb, q, 5)).toEqual([]);

    // Deleting the base removes its file.
    forgetVectors(other.id);
    await expect.poll(() => indexFiles(other.id)).toEqual([]);
  });

  it('answers concurrent first searches alike (they share one sync)', async () => {
    const kb = await makeKb();
    const doc = await addDoc(kb, 100);
    const queries = Array.from({ length: 8 }, vector);
    const results = await Promise.all(queries.map((q) => nearestChunks(t.db, masterKey, kb, q, 3)));
    results.forEach((r, i) => expect(r.map((h) => h.chunkId)).toEqual(exact(doc.vectors, queries[i]!, 3)));
  });
});
