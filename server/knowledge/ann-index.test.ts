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
  it('finds what exact search finds, scores as inner products, keys large as vector-index makes them', () => {
    const { matrix, keys, index } = filled(3000);
    let agreed = 0;
    for (let q = 0; q < 20; q++) {
      const query = vector();
      const exact = exactTopK(matrix, DIMS, query, 10);
      const found = index.search(query, 10);
      expect(found).toHaveLength(10);
      const truth = new Set(exact.map((h) => keys[h.index]));
      agreed += found.filter((f) => truth.has(f.key)).length;
      // float16 storage: the score is the inner product to about three decimals.
      const best = exact[0]!;
      const same = found.find((f) => f.key === keys[best.index]);
      if (same) expect(same.score).toBeCloseTo(best.score, 2);
      for (let i = 1; i < found.length; i++) expect(found[i - 1]!.score).toBeGreaterThanOrEqual(found[i]!.score);
    }
    expect(agreed / 200).toBeGreaterThanOrEqual(0.95);
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

  it('is saved sealed and loaded back the same; the plaintext never stays on disk; tampering is refused', async () => {
    const { index } = filled(500);
    const key = { id: 7, key: randomBytes(32) };
    const file = path.join(tmp, 'kb', 'model.hnsw');
    const scratch = path.join(tmp, 'scratch');
    const bytes = await index.saveSealed(file, scratch, { dims: DIMS, docs: { '1': 3 } }, key);
    expect(bytes).toBe((await stat(file)).size);
    expect((await stat(scratch)).mode & 0o777).toBe(0o700);
    expect(await readdir(scratch)).toEqual([]); // the clear copy is gone
    expect(await readdir(path.dirname(file))).toEqual(['model.hnsw']); // no partial left
    const sealed = await readFile(file);
    expect(sealed.subarray(0, 8).toString()).toBe('ENCHNSW1');
    expect(sealed.includes(Buffer.from('"docs"'))).toBe(false); // the manifest is sealed too

    const keyById = async (id: number) => {
      if (id !== 7) throw new Error(`no key ${id}`);
      return key.key;
    };
    const loaded = await AnnIndex.loadSealed(file, scratch, keyById);
    expect(loaded.manifest).toEqual({ dims: DIMS, docs: { '1': 3 } });
    expect(loaded.index.size).toBe(500);
    const q = vector();
    expect(loaded.index.search(q, 5).map((h) => h.key)).toEqual(index.search(q, 5).map((h) => h.key));
    expect(await readdir(scratch)).toEqual([]);

    const flipped = Buffer.from(sealed);
    flipped[Math.floor(flipped.length / 2)]! ^= 1;
    await writeFile(file, flipped);
    await expect(AnnIndex.loadSealed(file, scratch, keyById)).rejects.toThrow(/authenticate/);
    await writeFile(file, sealed.subarray(0, sealed.length - 100));
    await expect(AnnIndex.loadSealed(file, scratch, keyById)).rejects.toThrow();
    await writeFile(file, Buffer.from('not an index at all, just some bytes of something else entirely'));
    await expect(AnnIndex.loadSealed(file, scratch, keyById)).rejects.toThrow(/not a sealed vector index/);
    expect(await readdir(scratch)).toEqual([]);
  });
});
