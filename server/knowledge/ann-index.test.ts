import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { normalise } from '../core/vectors';
import { AnnIndex } from './ann-index';
import { exactTopK } from './exact-search';

const DIMS = 48;
let seed = 1;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
const vector = () => normalise(Float32Array.from({ length: DIMS }, rand));
const tmp = await mkdtemp(path.join(os.tmpdir(), 'ann-'));
afterAll(() => rm(tmp, { recursive: true, force: true }));

function filled(n: number) {
  const matrix = new Float32Array(n * DIMS);
  for (let i = 0; i < n; i++) matrix.set(vector(), i * DIMS);
  const keys = Array.from({ length: n }, (_, i) => 2 ** 20 * (i + 1) + i); // the shape vector-index.ts makes
  const index = AnnIndex.create(DIMS);
  index.add(keys, matrix);
  return { matrix, keys, index };
}

describe('the approximate vector index', () => {
  it('below its scan size it is exact search: same keys, same scores', () => {
    const { matrix, keys, index } = filled(3000);
    expect(index.listCount).toBe(1);
    for (let q = 0; q < 10; q++) {
      const query = vector();
      const exact = exactTopK(matrix, DIMS, query, 10);
      const found = index.search(query, 10);
      expect(found.map((f) => f.key)).toEqual(exact.map((h) => keys[h.index]));
      found.forEach((f, i) => expect(f.score).toBeCloseTo(exact[i]!.score, 5));
    }
  });

  it('past it, trains lists (k-means) and finds what exact search finds by probing the nearest; adds, removes and persists after training', async () => {
    // Clustered as embeddings are: 60 centres, each vector a centre plus noise.
    const centres = Array.from({ length: 60 }, vector);
    const n = 6000;
    const matrix = new Float32Array(n * DIMS);
    for (let i = 0; i < n; i++) matrix.set(normalise(centres[i % 60]!.map((x) => x + 0.08 * rand())), i * DIMS);
    const keys = Array.from({ length: n }, (_, i) => 2 ** 20 * (i + 1));
    const index = AnnIndex.create(DIMS, { probes: 3, scanAtLeast: 1000 });
    index.add(keys.slice(0, 1000), matrix.subarray(0, 1000 * DIMS));
    expect(index.listCount).toBe(1);
    index.add(keys.slice(1000), matrix.subarray(1000 * DIMS));
    expect(index.listCount).toBe(Math.round(4 * Math.sqrt(n))); // trained once it passed twice its scan size
    let agreed = 0;
    const queries = Array.from({ length: 20 }, (_, q) => normalise(centres[(q * 7) % 60]!.map((x) => x + 0.08 * rand())));
    for (const query of queries) {
      const truth = new Set(exactTopK(matrix, DIMS, query, 10).map((h) => keys[h.index]));
      agreed += index.search(query, 10).filter((f) => truth.has(f.key)).length;
    }
    expect(agreed / 200).toBeGreaterThanOrEqual(0.95);
    // Removed keys are never answered; a replaced key is there once.
    const q = queries[0]!;
    const first = index.search(q, 5).map((h) => h.key);
    index.remove(first.slice(0, 2));
    expect(index.search(q, 5).map((h) => h.key)).not.toContain(first[0]);
    index.add([first[0]!], q);
    expect(index.size).toBe(n - 1);
    expect(index.search(q, 1)[0]).toMatchObject({ key: first[0], score: expect.closeTo(1, 5) });
    // Saved and loaded: the same lists, the same answers.
    const file = path.join(tmp, 'trained.ivf');
    const key = { id: 3, key: randomBytes(32) };
    await index.saveSealed(file, { dims: DIMS }, key);
    const loaded = (await AnnIndex.loadSealed(file, async () => key.key, { probes: 3, scanAtLeast: 1000 })).index;
    expect(loaded.listCount).toBe(index.listCount);
    expect(loaded.size).toBe(index.size);
    for (const query of queries.slice(0, 5)) expect(loaded.search(query, 10)).toEqual(index.search(query, 10));
  });

  it('removes, replaces a key rather than doubling it, and answers fewer than k when it holds fewer', () => {
    const index = AnnIndex.create(DIMS);
    const a = vector();
    const b = vector();
    index.add([5, 6], Float32Array.from([...a, ...b]));
    expect(index.size).toBe(2);
    index.add([5], a); // again: replaced
    expect(index.size).toBe(2);
    expect(index.search(a, 10).map((h) => h.key)).toEqual([5, 6]);
    index.remove([5]);
    expect(index.search(a, 10).map((h) => h.key)).toEqual([6]);
    expect(AnnIndex.create(DIMS).search(a, 5)).toEqual([]);
    expect(() => index.search(Float32Array.from([1, 0]), 3)).toThrow(/2 dimensions, the index 48/);
    expect(() => index.add([1, 2], a)).toThrow(/2 vectors of 48/);
  });

  it('is saved sealed and loaded back the same; tampering, truncation and foreign files are refused', async () => {
    const { index } = filled(500);
    expect(AnnIndex.create(DIMS).search(vector(), 3)).toEqual([]);
    const key = { id: 7, key: randomBytes(32) };
    const file = path.join(tmp, 'kb', 'model.ivf');
    const bytes = await index.saveSealed(file, { dims: DIMS, docs: { '1': 3 } }, key);
    expect(bytes).toBe((await stat(file)).size);
    expect(await readdir(path.dirname(file))).toEqual(['model.ivf']); // no partial left
    const sealed = await readFile(file);
    expect(sealed.subarray(0, 8).toString()).toBe('ENCIVF01');
    expect(sealed.includes(Buffer.from('"docs"'))).toBe(false); // the manifest is sealed too

    const keyById = async (id: number) => {
      if (id !== 7) throw new Error(`no key ${id}`);
      return key.key;
    };
    const loaded = await AnnIndex.loadSealed(file, keyById);
    expect(loaded.manifest).toEqual({ dims: DIMS, docs: { '1': 3 } });
    expect(loaded.index.size).toBe(500);
    const q = vector();
    expect(loaded.index.search(q, 5).map((h) => h.key)).toEqual(index.search(q, 5).map((h) => h.key));

    const flipped = Buffer.from(sealed);
    flipped[Math.floor(flipped.length / 2)]! ^= 1;
    await writeFile(file, flipped);
    await expect(AnnIndex.loadSealed(file, keyById)).rejects.toThrow(/authenticate/);
    await writeFile(file, sealed.subarray(0, sealed.length - 100));
    await expect(AnnIndex.loadSealed(file, keyById)).rejects.toThrow();
    await writeFile(file, Buffer.from('not an index at all, just some bytes of something else entirely'));
    await expect(AnnIndex.loadSealed(file, keyById)).rejects.toThrow(/not a sealed vector index/);
  });
});
