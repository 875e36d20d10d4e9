import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Index } from 'usearch';
import { exactTopK } from './exact-search';

/**
 * An approximate nearest-neighbour index over L2-normalised vectors, scored by inner product (cosine):
 * an inverted file (IVF). Vectors are grouped into lists around k-means centroids; a query scores the
 * centroids, then exactly scores the vectors of the nearest lists only. Scores are exact float32 inner
 * products: only which lists are looked in is approximate.
 *
 * Why not HNSW: bench/retrieval measured usearch's HNSW (float16, M 16, ef 200) at 1,000,000 × 384 at
 * recall@10 0.76, p99 22.5 ms and 21 minutes to build on two cores; the graph finds dense near-ties
 * poorly. IVF lists are found by the centroids, and a list is scanned whole.
 *
 * Below `scanAtLeast` vectors there is one list: the search is exact. Lists are trained (spherical
 * k-means on a sample, 4√n lists) when the index first outgrows that, and again whenever it has grown
 * fourfold since; usearch's native HNSW over the centroids assigns vectors to lists while training.
 *
 * Keys are whole numbers below 2^53 (vector-index.ts makes them from a document's serial and a chunk's
 * ordinal). Memory: the float32 vectors and their keys (about 1.5 GiB per million at 384 dimensions).
 */
export interface AnnParams {
  /** Lists looked in per query, at least. */
  probes: number;
  /** Vectors scanned per query, at least (more lists are probed when lists are small): below it, exact. */
  scanAtLeast: number;
}

export const DEFAULT_ANN: AnnParams = { probes: 8, scanAtLeast: 10_000 };

/**
 * Lists per √n (FAISS's guidance is 4 to 16): fewer lists than the data has natural clusters leave each
 * cluster spread over many lists, which bench/retrieval showed at √n (recall@10 0.73 at a million).
 */
const LISTS_PER_ROOT = 4;
/** Sample vectors per list that k-means trains on. */
const SAMPLE_PER_LIST = 32;
const KMEANS_ROUNDS = 8;
const MAX_LISTS = 4096;

class List {
  size = 0;
  keys = new Float64Array(16);
  vectors: Float32Array;
  constructor(private readonly dims: number) {
    this.vectors = new Float32Array(16 * dims);
  }
  /** Room for `extra` more entries, grown once (by half again at least, so pushes one by one stay cheap). */
  reserve(extra: number): void {
    if (this.size + extra <= this.keys.length) return;
    const cap = Math.max(this.size + extra, Math.ceil(this.keys.length * 1.5));
    const keys = new Float64Array(cap);
    keys.set(this.keys.subarray(0, this.size));
    const vectors = new Float32Array(cap * this.dims);
    vectors.set(this.matrix());
    this.keys = keys;
    this.vectors = vectors;
  }
  push(key: number, v: Float32Array, at = 0): void {
    this.reserve(1);
    this.keys[this.size] = key;
    this.vectors.set(v.subarray(at, at + this.dims), this.size * this.dims);
    this.size++;
  }
  /** Removes `key` by moving the last entry into its place. */
  remove(key: number): boolean {
    const at = this.keys.subarray(0, this.size).indexOf(key);
    if (at < 0) return false;
    const last = this.size - 1;
    this.keys[at] = this.keys[last]!;
    this.vectors.copyWithin(at * this.dims, last * this.dims, (last + 1) * this.dims);
    this.size--;
    return true;
  }
  /** Gives back room grown by pushes one at a time (a quarter of the memory, after a training). */
  compact(): void {
    if (this.keys.length - this.size < 16) return;
    this.keys = this.keys.slice(0, Math.max(16, this.size));
    this.vectors = this.vectors.slice(0, Math.max(16, this.size) * this.dims);
  }
  matrix(): Float32Array {
    return this.vectors.subarray(0, this.size * this.dims);
  }
}

export class AnnIndex {
  private lists: List[];
  /** Row-major, one per list; empty while there is a single untrained list. */
  private centroids = new Float32Array(0);
  /** key → list number. */
  private where = new Map<number, number>();
  /** The size at the last training: trained again at four times it. */
  private trainedAt = 0;
  /** usearch's HNSW over the centroids, made when first needed after a training or a load. */
  private graph: Index | null = null;

  private constructor(
    readonly dims: number,
    readonly params: AnnParams,
  ) {
    this.lists = [new List(dims)];
  }

  static create(dims: number, params: AnnParams = DEFAULT_ANN): AnnIndex {
    if (!Number.isInteger(dims) || dims <= 0) throw new Error('an index needs a positive number of dimensions');
    return new AnnIndex(dims, params);
  }

  get size(): number {
    return this.where.size;
  }

  /** Bytes of the typed arrays it holds (vectors, keys, centroids; room to grow included), not the key map. */
  get arrayBytes(): number {
    return this.centroids.byteLength + this.lists.reduce((sum, l) => sum + l.keys.byteLength + l.vectors.byteLength, 0);
  }

  get listCount(): number {
    return this.lists.length;
  }

  /** Adds rows of `matrix` (row-major, dims wide) under `keys`; a key already present is replaced. */
  add(keys: readonly number[], matrix: Float32Array): void {
    if (keys.length === 0) return;
    if (matrix.length !== keys.length * this.dims) throw new Error(`expected ${keys.length} vectors of ${this.dims} dimensions`);
    this.remove(keys.filter((k) => this.where.has(k)));
    const targets = this.nearestLists(matrix);
    const counts = new Map<number, number>();
    for (const t of targets) counts.set(t, (counts.get(t) ?? 0) + 1);
    for (const [t, n] of counts) this.lists[t]!.reserve(n);
    keys.forEach((key, i) => {
      this.lists[targets[i]!]!.push(key, matrix, i * this.dims);
      this.where.set(key, targets[i]!);
    });
    if (this.size >= 2 * this.params.scanAtLeast && this.size >= 4 * Math.max(this.trainedAt, this.params.scanAtLeast / 2)) this.train();
  }

  remove(keys: readonly number[]): void {
    for (const key of keys) {
      const list = this.where.get(key);
      if (list === undefined) continue;
      this.lists[list]!.remove(key);
      this.where.delete(key);
    }
  }

  /** The k nearest keys to `query` with their inner product, best first. */
  search(query: Float32Array, k: number): { key: number; score: number }[] {
    if (this.size === 0 || k <= 0) return [];
    if (query.length !== this.dims) throw new Error(`the query has ${query.length} dimensions, the index ${this.dims}`);
    const probes = Math.min(this.lists.length, Math.max(this.params.probes, Math.ceil(this.params.scanAtLeast / (this.size / this.lists.length))));
    const chosen = probes >= this.lists.length ? this.lists.map((_, i) => i) : exactTopK(this.centroids, this.dims, query, probes).map((h) => h.index);
    const hits: { key: number; score: number }[] = [];
    for (const n of chosen) {
      const list = this.lists[n]!;
      for (const h of exactTopK(list.matrix(), this.dims, query, k)) hits.push({ key: list.keys[h.index]!, score: h.score });
    }
    return hits.sort((a, b) => b.score - a.score).slice(0, k);
  }

  /** The list each row of `matrix` belongs to (0 while untrained). */
  private nearestLists(matrix: Float32Array): number[] {
    const n = matrix.length / this.dims;
    if (this.lists.length === 1) return new Array<number>(n).fill(0);
    // A few vectors (a document's chunks): a plain scan of the centroids is quicker than the graph.
    if (n * this.lists.length <= 262_144) return Array.from({ length: n }, (_, i) => exactTopK(this.centroids, this.dims, matrix.subarray(i * this.dims, (i + 1) * this.dims), 1)[0]!.index);
    this.graph ??= centroidGraph(this.centroids, this.dims);
    return assign(this.graph, this.dims, matrix);
  }

  /** Spherical k-means on a sample, then every vector moved to its nearest centroid's list. */
  private train(): void {
    const n = this.size;
    const count = Math.min(MAX_LISTS, Math.max(2, Math.round(LISTS_PER_ROOT * Math.sqrt(n))));
    const sampleSize = Math.min(n, count * SAMPLE_PER_LIST);
    // An even stride through every list: deterministic, and every region of the space is represented.
    const sample = new Float32Array(sampleSize * this.dims);
    let taken = 0;
    const stride = n / sampleSize;
    let next = 0;
    let seen = 0;
    for (const list of this.lists) {
      for (let i = 0; i < list.size && taken < sampleSize; i++, seen++) {
        if (seen < next) continue;
        sample.set(list.vectors.subarray(i * this.dims, (i + 1) * this.dims), taken * this.dims);
        taken++;
        next += stride;
      }
    }
    const rows = taken;
    // Initial centroids: evenly spaced sample rows.
    const centroids = new Float32Array(count * this.dims);
    for (let c = 0; c < count; c++) centroids.set(sample.subarray(Math.floor((c * rows) / count) * this.dims, (Math.floor((c * rows) / count) + 1) * this.dims), c * this.dims);
    const sampled = sample.subarray(0, rows * this.dims);
    for (let round = 0; round < KMEANS_ROUNDS; round++) {
      const owner = assign(centroidGraph(centroids, this.dims), this.dims, sampled);
      const sums = new Float64Array(count * this.dims);
      const members = new Uint32Array(count);
      owner.forEach((c, r) => {
        members[c]!++;
        for (let d = 0; d < this.dims; d++) sums[c * this.dims + d]! += sampled[r * this.dims + d]!;
      });
      for (let c = 0; c < count; c++) {
        // An empty centroid restarts at a sample row far down the order (deterministic).
        if (members[c] === 0) {
          const r = (c * 7919 + round * 104729) % rows;
          centroids.set(sampled.subarray(r * this.dims, (r + 1) * this.dims), c * this.dims);
          continue;
        }
        let norm = 0;
        for (let d = 0; d < this.dims; d++) norm += sums[c * this.dims + d]! ** 2;
        norm = Math.sqrt(norm) || 1;
        for (let d = 0; d < this.dims; d++) centroids[c * this.dims + d] = sums[c * this.dims + d]! / norm;
      }
    }
    const old = this.lists;
    this.lists = Array.from({ length: count }, () => new List(this.dims));
    this.centroids = centroids;
    this.graph = centroidGraph(centroids, this.dims);
    for (let o = 0; o < old.length; o++) {
      const list = old[o]!;
      const targets = assign(this.graph, this.dims, list.matrix());
      for (let i = 0; i < list.size; i++) {
        this.lists[targets[i]!]!.push(list.keys[i]!, list.vectors, i * this.dims);
        this.where.set(list.keys[i]!, targets[i]!);
      }
      old[o] = new List(this.dims); // Freed as it goes: at most one list held twice.
    }
    for (const list of this.lists) list.compact();
    this.trainedAt = n;
  }

  /**
   * Writes the index sealed (AES-256-GCM under `key`, its id and the layout in the authenticated clear
   * header) with `manifest`, to `file` atomically (a temporary name renamed into place). The plaintext is
   * streamed through the cipher: it never touches the disk.
   */
  async saveSealed(file: string, manifest: { dims: number } & Record<string, unknown>, key: { id: number; key: Buffer }): Promise<number> {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const partial = `${file}.${randomBytes(4).toString('hex')}.partial`;
    const iv = randomBytes(12);
    const layout = Buffer.from(JSON.stringify({ dims: this.dims, trainedAt: this.trainedAt, lists: this.lists.map((l) => l.size) }));
    const head = Buffer.concat([MAGIC, u32(key.id), iv, u32(layout.length), layout]);
    const cipher = createCipheriv('aes-256-gcm', key.key, iv);
    cipher.setAAD(head);
    const meta = Buffer.from(JSON.stringify(manifest));
    const out = await open(partial, 'w', 0o600);
    try {
      await out.write(head);
      await out.write(cipher.update(Buffer.concat([u32(meta.length), meta])));
      await out.write(cipher.update(view(this.centroids)));
      for (const list of this.lists) {
        await out.write(cipher.update(view(list.keys.subarray(0, list.size))));
        await out.write(cipher.update(view(list.matrix())));
      }
      await out.write(cipher.final());
      await out.write(cipher.getAuthTag());
      await out.sync();
      await out.close();
      await rename(partial, file);
      return (await stat(file)).size;
    } catch (e) {
      await out.close().catch(() => undefined);
      await rm(partial, { force: true });
      throw e;
    }
  }

  /**
   * Reads what saveSealed wrote: the manifest and the index, or an error when the file is not one, was
   * altered or cut short (the tag is checked before the index is returned), or its key cannot be had.
   */
  static async loadSealed(file: string, keyById: (id: number) => Promise<Buffer>, params: AnnParams = DEFAULT_ANN): Promise<{ index: AnnIndex; manifest: { dims: number } & Record<string, unknown> }> {
    const input = await open(file, 'r');
    try {
      const size = (await input.stat()).size;
      const fixed = Buffer.alloc(MAGIC.length + 4 + 12 + 4);
      if (size < fixed.length + 16) throw new Error('index file too short');
      await input.read(fixed, 0, fixed.length, 0);
      if (!fixed.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('not a sealed vector index');
      const layoutLength = fixed.readUInt32BE(MAGIC.length + 16);
      if (fixed.length + layoutLength + 16 > size) throw new Error('index file too short');
      const layoutBytes = Buffer.alloc(layoutLength);
      await input.read(layoutBytes, 0, layoutLength, fixed.length);
      const layout = JSON.parse(layoutBytes.toString('utf8')) as { dims: number; trainedAt: number; lists: number[] };
      if (!Number.isInteger(layout.dims) || layout.dims <= 0 || !Array.isArray(layout.lists) || layout.lists.some((n) => !Number.isInteger(n) || n < 0)) throw new Error('index layout is not valid');
      const tag = Buffer.alloc(16);
      await input.read(tag, 0, 16, size - 16);
      const decipher = createDecipheriv('aes-256-gcm', await keyById(fixed.readUInt32BE(MAGIC.length)), fixed.subarray(MAGIC.length + 4, MAGIC.length + 16));
      decipher.setAAD(Buffer.concat([fixed, layoutBytes]));
      decipher.setAuthTag(tag);

      const index = new AnnIndex(layout.dims, params);
      index.trainedAt = layout.trainedAt;
      const trained = layout.lists.length > 1;
      index.centroids = new Float32Array(trained ? layout.lists.length * layout.dims : 0);
      index.lists = layout.lists.map((n) => {
        const list = new List(layout.dims);
        list.keys = new Float64Array(Math.max(16, n));
        list.vectors = new Float32Array(Math.max(16, n) * layout.dims);
        list.size = n;
        return list;
      });
      // The plaintext in order: manifest length, manifest, centroids, then each list's keys and vectors.
      const lengthBytes = new Uint8Array(4);
      let metaBytes: Uint8Array | null = null;
      const targets: (() => Uint8Array)[] = [
        () => lengthBytes,
        () => (metaBytes = new Uint8Array(Buffer.from(lengthBytes).readUInt32BE(0))),
        () => view(index.centroids),
        ...index.lists.flatMap((l) => [() => view(l.keys.subarray(0, l.size)), () => view(l.matrix())]),
      ];
      let target = targets.shift()!();
      let filled = 0;
      const stream = input.createReadStream({ start: fixed.length + layoutLength, end: size - 17, highWaterMark: 1 << 20, autoClose: false });
      for await (const chunk of stream) {
        let plain = decipher.update(chunk as Buffer);
        while (plain.length > 0) {
          while (filled === target.length && targets.length > 0) {
            target = targets.shift()!();
            filled = 0;
          }
          if (filled === target.length) throw new Error('index file longer than its layout');
          const take = Math.min(plain.length, target.length - filled);
          target.set(plain.subarray(0, take), filled);
          filled += take;
          plain = plain.subarray(take);
        }
      }
      decipher.final(); // Throws when the tag does not match: nothing read is used before this.
      while (filled === target.length && targets.length > 0) {
        target = targets.shift()!();
        filled = 0;
      }
      if (filled !== target.length || targets.length > 0 || !metaBytes) throw new Error('index file shorter than its layout');
      index.lists.forEach((l, n) => l.keys.subarray(0, l.size).forEach((key) => index.where.set(key, n)));
      const manifest = JSON.parse(Buffer.from(metaBytes).toString('utf8')) as { dims: number } & Record<string, unknown>;
      if (manifest.dims !== layout.dims) throw new Error('index file and manifest disagree on dimensions');
      return { index, manifest };
    } finally {
      await input.close();
    }
  }
}

const MAGIC = Buffer.from('ENCIVF01');

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

const view = (a: Float32Array | Float64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * usearch's native HNSW over centroids (a few thousand at most), to find each vector's nearest centroid
 * on both threads: assigning a million vectors by a JS scan of every centroid took minutes. An assignment
 * a little off costs nothing but a vector in the second-nearest list, which probing several lists covers.
 */
function centroidGraph(centroids: Float32Array, dims: number): Index {
  const count = centroids.length / dims;
  const graph = new Index({ dimensions: dims, metric: 'ip' as never, quantization: 'f32' as never, connectivity: 16, expansion_add: 128, expansion_search: 64, multi: false });
  graph.add(BigUint64Array.from({ length: count }, (_, i) => BigInt(i)), centroids, 0);
  return graph;
}

/** The nearest centroid of each row of `matrix`. */
function assign(graph: Index, dims: number, matrix: Float32Array): number[] {
  const rows = matrix.length / dims;
  const out = new Array<number>(rows);
  for (let at = 0; at < rows; at += 65_536) {
    const part = matrix.subarray(at * dims, Math.min(rows, at + 65_536) * dims);
    const found = graph.search(part, 1, 0);
    for (let i = 0; i < found.keys.length; i++) out[at + i] = Number(found.keys[i]);
  }
  return out;
}
