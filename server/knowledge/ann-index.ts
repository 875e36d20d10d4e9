import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Index } from 'usearch';

/**
 * An approximate nearest-neighbour index (HNSW, usearch's prebuilt native addon) over L2-normalised
 * vectors, scored by inner product (cosine). Vectors are held as float16: half the memory of float32,
 * and at 1,000,000 × 384 recall@10 stays ≥ 0.95 where int8 did not (bench/retrieval measures both).
 *
 * Keys are whole numbers below 2^53 (vector-index.ts makes them from a document's serial and a chunk's
 * ordinal); usearch keeps them as unsigned 64-bit integers.
 */
export interface AnnParams {
  /** Graph degree (M). */
  connectivity: number;
  /** Candidates looked at while inserting (efConstruction): build time against graph quality. */
  expansionAdd: number;
  /** Candidates looked at per query (ef): latency against recall. */
  expansionSearch: number;
}

export const DEFAULT_ANN: AnnParams = { connectivity: 16, expansionAdd: 64, expansionSearch: 200 };

/** What usearch pads a result with when the index holds fewer than k vectors. */
const NO_KEY = 0xffffffffffffffffn;

export class AnnIndex {
  private constructor(
    private readonly index: Index,
    readonly dims: number,
  ) {}

  static create(dims: number, params: AnnParams = DEFAULT_ANN): AnnIndex {
    const index = new Index({
      dimensions: dims,
      metric: 'ip' as never,
      quantization: 'f16' as never,
      connectivity: params.connectivity,
      expansion_add: params.expansionAdd,
      expansion_search: params.expansionSearch,
      multi: false,
    });
    return new AnnIndex(index, dims);
  }

  get size(): number {
    return this.index.size();
  }

  /** Adds rows of `matrix` (row-major, dims wide) under `keys`; a key already present is replaced. */
  add(keys: readonly number[], matrix: Float32Array, threads = 0): void {
    if (keys.length === 0) return;
    if (matrix.length !== keys.length * this.dims) throw new Error(`expected ${keys.length} vectors of ${this.dims} dimensions`);
    const big = BigUint64Array.from(keys, BigInt);
    // HNSW has no update: a key present twice would be two points. Replacing is remove then add.
    const present = this.index.contains(big) as boolean[] | boolean;
    const again = (Array.isArray(present) ? present : [present]).flatMap((p, i) => (p ? [big[i]!] : []));
    if (again.length) this.index.remove(BigUint64Array.from(again));
    this.index.add(big, matrix, threads);
  }

  remove(keys: readonly number[]): void {
    if (keys.length) this.index.remove(BigUint64Array.from(keys, BigInt));
  }

  /** The k nearest keys to `query` with their inner product, best first. */
  search(query: Float32Array, k: number): { key: number; score: number }[] {
    if (this.size === 0 || k <= 0) return [];
    if (query.length !== this.dims) throw new Error(`the query has ${query.length} dimensions, the index ${this.dims}`);
    const found = this.index.search(query, Math.min(k, this.size), 1);
    const out: { key: number; score: number }[] = [];
    for (let i = 0; i < found.keys.length; i++) {
      if (found.keys[i] === NO_KEY) continue;
      // usearch's inner-product "distance" is 1 - dot.
      out.push({ key: Number(found.keys[i]), score: 1 - found.distances[i]! });
    }
    return out;
  }

  /**
   * Writes the index sealed (AES-256-GCM under `key`, its id in the clear header) with `manifest`, to
   * `file` atomically (a temporary name renamed into place). usearch serialises only to a path: the
   * plaintext passes through `scratch` (a 0700 directory of the data dir), removed before this returns.
   */
  async saveSealed(file: string, scratch: string, manifest: { dims: number } & Record<string, unknown>, key: { id: number; key: Buffer }): Promise<number> {
    await privateDir(scratch);
    const clear = path.join(scratch, `${randomBytes(8).toString('hex')}.usearch`);
    const partial = `${file}.${randomBytes(4).toString('hex')}.partial`;
    try {
      this.index.save(clear);
      await chmod(clear, 0o600);
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const iv = randomBytes(12);
      const head = header(key.id, iv);
      const cipher = createCipheriv('aes-256-gcm', key.key, iv);
      cipher.setAAD(head);
      const meta = Buffer.from(JSON.stringify(manifest));
      const metaLength = Buffer.alloc(4);
      metaLength.writeUInt32BE(meta.length);
      const out = await open(partial, 'w', 0o600);
      try {
        await out.write(head);
        await out.write(cipher.update(Buffer.concat([metaLength, meta])));
        for await (const chunk of createReadStream(clear, { highWaterMark: 1 << 20 })) await out.write(cipher.update(chunk as Buffer));
        await out.write(cipher.final());
        await out.write(cipher.getAuthTag());
        await out.sync();
      } finally {
        await out.close();
      }
      await rename(partial, file);
      return (await stat(file)).size;
    } finally {
      await rm(clear, { force: true });
      await rm(partial, { force: true });
    }
  }

  /**
   * Reads what saveSealed wrote: the manifest and the index, or an error when the file is not one, was
   * altered or cut short (the tag is checked before usearch reads a byte), or its key cannot be had.
   */
  static async loadSealed(file: string, scratch: string, keyById: (id: number) => Promise<Buffer>, params: AnnParams = DEFAULT_ANN): Promise<{ index: AnnIndex; manifest: { dims: number } }> {
    await privateDir(scratch);
    const clear = path.join(scratch, `${randomBytes(8).toString('hex')}.usearch`);
    const input = await open(file, 'r');
    try {
      const size = (await input.stat()).size;
      const head = Buffer.alloc(HEADER_BYTES);
      const tag = Buffer.alloc(16);
      if (size < HEADER_BYTES + 16) throw new Error('index file too short');
      await input.read(head, 0, HEADER_BYTES, 0);
      await input.read(tag, 0, 16, size - 16);
      if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('not a sealed vector index');
      const decipher = createDecipheriv('aes-256-gcm', await keyById(head.readUInt32BE(MAGIC.length)), head.subarray(MAGIC.length + 4));
      decipher.setAAD(head);
      decipher.setAuthTag(tag);
      let pending = Buffer.alloc(0);
      let meta: Buffer | null = null;
      const out = await open(clear, 'w', 0o600);
      try {
        const stream = input.createReadStream({ start: HEADER_BYTES, end: size - 17, highWaterMark: 1 << 20, autoClose: false });
        for await (const chunk of stream) {
          let plain = decipher.update(chunk as Buffer);
          if (!meta) {
            pending = Buffer.concat([pending, plain]);
            if (pending.length < 4 || pending.length < 4 + pending.readUInt32BE(0)) continue;
            const end = 4 + pending.readUInt32BE(0);
            meta = pending.subarray(4, end);
            plain = pending.subarray(end);
          }
          if (plain.length) await out.write(plain);
        }
        decipher.final(); // Throws when the tag does not match: nothing read so far is trusted before this.
      } finally {
        await out.close();
      }
      if (!meta) throw new Error('index file holds no manifest');
      const manifest = JSON.parse(meta.toString('utf8')) as { dims?: unknown };
      if (!Number.isInteger(manifest.dims) || (manifest.dims as number) <= 0) throw new Error('index manifest names no dimensions');
      const loaded = AnnIndex.create(manifest.dims as number, params);
      loaded.index.load(clear);
      if (loaded.index.dimensions() !== loaded.dims) throw new Error('index file and manifest disagree on dimensions');
      return { index: loaded, manifest: manifest as { dims: number } };
    } finally {
      await input.close();
      await rm(clear, { force: true });
    }
  }
}

const MAGIC = Buffer.from('ENCHNSW1');
const HEADER_BYTES = MAGIC.length + 4 + 12;

function header(keyId: number, iv: Buffer): Buffer {
  const id = Buffer.alloc(4);
  id.writeUInt32BE(keyId);
  return Buffer.concat([MAGIC, id, iv]);
}

async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}
