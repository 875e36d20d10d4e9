import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { ArtifactBackend } from './backend';
import { FRAME_BYTES, newHeader, sealFrame } from './sealed-format';

export interface WrittenArtifact {
  key: string;
  plainBytes: number;
  storedBytes: number;
  /** SHA-256 of the plaintext. */
  sha256: string;
  dataKeyId: number;
}

/**
 * A sealed artifact written a chunk at a time, for callers that produce it as they go (an upload being
 * validated while it streams). Frames are sealed as plaintext arrives and pushed to the backend through a
 * bounded pipe, so a slow store slows the writer instead of filling memory. Nothing is visible under the key
 * until finish(); abort() leaves nothing behind.
 */
export class ArtifactWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private frames = 0;
  private plainBytes = 0;
  private readonly hash = createHash('sha256');
  private readonly pipe = new PassThrough({ highWaterMark: 2 * FRAME_BYTES });
  private readonly stored: Promise<{ bytes: number }>;
  private readonly objectKey: Buffer;
  private state: 'open' | 'finished' | 'aborted' = 'open';

  constructor(
    backend: ArtifactBackend,
    readonly key: string,
    private readonly dataKey: { id: number; key: Buffer },
  ) {
    const { header, objectKey } = newHeader(dataKey);
    this.objectKey = objectKey;
    // The backend reports failures through `stored`; an abort before it started reading must not be uncaught.
    this.pipe.on('error', () => undefined);
    this.stored = backend.write(key, this.pipe);
    // Awaited in finish/abort; until then a failure must not be an unhandled rejection.
    this.stored.catch(() => undefined);
    this.pipe.write(header);
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'open') throw new Error(`artifact ${this.key} is ${this.state}`);
    if (chunk.length === 0) return;
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.hash.update(buffer);
    this.plainBytes += buffer.length;
    this.pending.push(buffer);
    this.pendingBytes += buffer.length;
    if (this.pendingBytes < FRAME_BYTES) return;
    const all = Buffer.concat(this.pending, this.pendingBytes);
    let at = 0;
    for (; all.length - at >= FRAME_BYTES; at += FRAME_BYTES) await this.push(sealFrame(this.objectKey, this.frames++, all.subarray(at, at + FRAME_BYTES), false));
    this.pending = at < all.length ? [all.subarray(at)] : [];
    this.pendingBytes = all.length - at;
  }

  /** Seals what is left as the final frame (possibly empty) and waits until the store holds the whole object. */
  async finish(): Promise<WrittenArtifact> {
    if (this.state !== 'open') throw new Error(`artifact ${this.key} is ${this.state}`);
    await this.push(sealFrame(this.objectKey, this.frames++, Buffer.concat(this.pending, this.pendingBytes), true));
    this.pending = [];
    this.state = 'finished';
    this.pipe.end();
    const { bytes } = await this.stored;
    return { key: this.key, plainBytes: this.plainBytes, storedBytes: bytes, sha256: this.hash.digest('hex'), dataKeyId: this.dataKey.id };
  }

  /** Stops the write: the backend discards what it had (the partial file, the multipart upload). */
  async abort(): Promise<void> {
    if (this.state === 'aborted') return;
    const wasOpen = this.state === 'open';
    this.state = 'aborted';
    if (wasOpen) this.pipe.destroy(new Error('artifact write aborted'));
    await this.stored.catch(() => undefined);
  }

  private async push(bytes: Buffer): Promise<void> {
    if (this.pipe.write(bytes)) return;
    // The backend may fail while we wait: then 'drain' never comes, and its failure is the answer.
    await Promise.race([
      once(this.pipe, 'drain'),
      this.stored.then(() => {
        throw new Error(`the store stopped reading artifact ${this.key}`);
      }),
    ]);
  }
}
