import { Readable } from 'node:stream';
import type { Db } from '../db/client';
import { dataKeyForOpening, dataKeyForSealing, type KeyOwner } from '../security/encryption';
import { ArtifactError, type ArtifactBackend } from './backend';
import { checkKey } from './keys';
import {
  FIXED_HEAD_BYTES,
  FRAME_BYTES,
  FRAME_OVERHEAD,
  HEADER_BYTES,
  frameOffset,
  framePlainBytes,
  layoutOf,
  openFrame,
  openObjectKey,
  parseHeader,
  rewrappedHeader,
  type Layout,
  type ParsedHeader,
} from './sealed-format';
import { ArtifactWriter, type WrittenArtifact } from './writer';

/** The data keys artifacts are sealed under (server/security/encryption.ts), or a test's own. */
export interface DataKeys {
  /** The current data key of `owner` (a user id: erasing them shreds it; null: the install's). */
  forSealing(owner: KeyOwner): Promise<{ id: number; key: Buffer }>;
  forOpening(id: number): Promise<Buffer>;
}

export const dataKeysOf = (db: Db, masterKey: Buffer): DataKeys => ({
  forSealing: (owner) => dataKeyForSealing(db, masterKey, owner),
  forOpening: (id) => dataKeyForOpening(db, masterKey, id),
});

export interface ArtifactInfo {
  key: string;
  /** Plaintext bytes. */
  size: number;
  storedBytes: number;
  modified: Date;
}

/** Plaintext bytes from `offset`, `length` of them (unset: to the end). */
export interface ByteRange {
  offset: number;
  length?: number;
}

/**
 * Artifacts sealed with Enclave's envelope encryption, whatever the backend: a shared directory or S3. What
 * the backend (or whoever can read the bucket) holds is ciphertext; server-side encryption may be asked of
 * S3 on top, never instead. Reads are streamed and authenticated frame by frame, and a ranged read fetches
 * only the frames it needs.
 */
export class ArtifactStore {
  constructor(
    readonly backend: ArtifactBackend,
    private readonly keys: DataKeys,
  ) {}

  /** A writer for content produced as it goes; see ArtifactWriter. */
  async writer(key: string, opts: { owner: KeyOwner }): Promise<ArtifactWriter> {
    checkKey(key);
    return new ArtifactWriter(this.backend, key, await this.keys.forSealing(opts.owner));
  }

  /** Seals and stores a stream; on any failure of the source or the store, nothing is left under the key. */
  async put(key: string, source: AsyncIterable<Uint8Array>, opts: { owner: KeyOwner }): Promise<WrittenArtifact> {
    const writer = await this.writer(key, opts);
    try {
      for await (const chunk of source) await writer.write(chunk);
      return await writer.finish();
    } catch (e) {
      await writer.abort();
      throw e;
    }
  }

  async head(key: string): Promise<ArtifactInfo | null> {
    const object = await this.backend.head(checkKey(key));
    if (!object) return null;
    // Every object this code writes has a header of the same length: the plaintext size follows from the size alone.
    return { key, size: layoutOf(object.bytes, HEADER_BYTES, key).plainBytes, storedBytes: object.bytes, modified: object.modified };
  }

  /** The data key an artifact's own key is sealed under (what an erasure or a re-seal needs to know). */
  async dataKeyId(key: string): Promise<number> {
    return (await this.readHeader(key)).dataKeyId;
  }

  /**
   * The plaintext of `key` (or of `range`), streamed, each frame authenticated before any of its bytes is
   * yielded. ArtifactError NOT_FOUND when absent, CORRUPT when altered, cut short or sealed under another key.
   */
  async *get(key: string, opts: { range?: ByteRange } = {}): AsyncGenerator<Buffer> {
    const object = await this.backend.head(checkKey(key));
    if (!object) throw new ArtifactError('NOT_FOUND', `Artifact ${key} does not exist`);
    const header = await this.readHeader(key);
    const layout = layoutOf(object.bytes, header.length, key);
    const objectKey = openObjectKey(header, await this.keys.forOpening(header.dataKeyId), key);

    const start = opts.range?.offset ?? 0;
    const end = opts.range?.length === undefined ? layout.plainBytes : Math.min(layout.plainBytes, start + opts.range.length);
    if (!Number.isSafeInteger(start) || start < 0 || (opts.range?.length !== undefined && (!Number.isSafeInteger(opts.range.length) || opts.range.length < 0)))
      throw new ArtifactError('FAILED', `A range of artifact ${key} must be whole, non-negative numbers`);
    // A whole read of an empty object still opens its final frame: a cut or altered object is an error, not "empty".
    const whole = !opts.range;
    if (end <= start && !(whole && layout.plainBytes === 0)) return;
    const first = Math.floor(start / FRAME_BYTES);
    const last = layout.plainBytes === 0 ? 0 : Math.floor((end - 1) / FRAME_BYTES);
    const from = frameOffset(layout, first);
    const to = frameOffset(layout, last) + FRAME_OVERHEAD + framePlainBytes(layout, last);
    const raw = await this.backend.read(key, { start: from, end: to - 1 });
    for await (const { index, plain } of frames(raw, objectKey, layout, first, last, key)) {
      const frameStart = index * FRAME_BYTES;
      const slice = plain.subarray(Math.max(0, start - frameStart), Math.min(plain.length, end - frameStart));
      if (slice.length) yield slice;
    }
  }

  /** get() as a Readable, for piping into a response or a file. */
  readable(key: string, opts: { range?: ByteRange } = {}): Readable {
    return Readable.from(this.get(key, opts));
  }

  async delete(key: string): Promise<void> {
    await this.backend.delete(checkKey(key));
  }

  list(prefix: string) {
    return this.backend.list(prefix);
  }

  /**
   * Re-seals the object's own key under `target` (moving it under its owner's key, for crypto-shredding):
   * only the header changes. Returns the data key id the header now names.
   */
  async rewrap(key: string, target: { id: number; key: Buffer }): Promise<number> {
    const header = await this.readHeader(key);
    if (header.dataKeyId === target.id) return target.id;
    const objectKey = openObjectKey(header, await this.keys.forOpening(header.dataKeyId), key);
    await this.backend.replaceHead(key, rewrappedHeader(header, objectKey, target));
    return target.id;
  }

  private async readHeader(key: string): Promise<ParsedHeader> {
    const stream = await this.backend.read(checkKey(key), { start: 0, end: HEADER_BYTES - 1 });
    const head = await collect(stream, HEADER_BYTES);
    const parsed = parseHeader(head, key);
    if (parsed.length > HEADER_BYTES || head.length < FIXED_HEAD_BYTES) throw new ArtifactError('CORRUPT', `Artifact ${key} has a header of an unknown length`);
    return parsed;
  }
}

async function collect(stream: Readable, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    parts.push(chunk);
    bytes += chunk.length;
    if (bytes >= max) break;
  }
  return Buffer.concat(parts, bytes).subarray(0, max);
}

/** Cuts a stream of stored bytes into frames `first`..`last` and opens each. */
async function* frames(raw: Readable, objectKey: Buffer, layout: Layout, first: number, last: number, name: string): AsyncGenerator<{ index: number; plain: Buffer }> {
  let queue: Buffer[] = [];
  let queued = 0;
  let index = first;
  const need = () => FRAME_OVERHEAD + framePlainBytes(layout, index);
  for await (const chunk of raw as AsyncIterable<Buffer>) {
    queue.push(chunk);
    queued += chunk.length;
    while (index <= last && queued >= need()) {
      const all = queue.length === 1 ? queue[0]! : Buffer.concat(queue, queued);
      const n = need();
      yield { index, plain: openFrame(objectKey, layout, index, all.subarray(0, n), name) };
      index++;
      const rest = all.subarray(n);
      queue = rest.length ? [rest] : [];
      queued = rest.length;
    }
  }
  if (index <= last) throw new ArtifactError('CORRUPT', `Artifact ${name} ended before frame ${index} (cut short while it was read)`);
}
