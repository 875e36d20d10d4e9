import { createDecipheriv } from 'node:crypto';
import fs from 'node:fs/promises';
import { unseal } from '../../security/encryption';
import { FRAME_BYTES, FRAME_HEAD_BYTES, MAGIC, TAG_BYTES, frameIv, newHeader, rewrappedHeader, sealFrame } from '../../artifacts/sealed-format';

/**
 * A dataset file sealed in AES-256-GCM frames, read and written as a file of its own: the format every
 * artifact is stored in (server/artifacts/sealed-format.ts, where the layout and its reasons are), used here
 * on a path. The store reads and writes datasets through server/artifacts; this stays for a file handed over
 * by path (the tests' fixtures of files written before the store).
 */
/** Larger than any frame this code writes: a corrupt length cannot make the reader allocate gigabytes. */
const MAX_FRAME_BYTES = 16 * FRAME_BYTES;

export class SealedFileWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private frames = 0;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: fs.FileHandle,
    private readonly fileKey: Buffer,
  ) {}

  /** Creates the file (it must not exist) and writes its header. */
  static async create(path: string, dataKey: { id: number; key: Buffer }): Promise<SealedFileWriter> {
    const handle = await fs.open(path, 'wx', 0o600);
    const { header, objectKey } = newHeader(dataKey);
    try {
      await handle.write(header);
    } catch (e) {
      await handle.close();
      await fs.rm(path, { force: true });
      throw e;
    }
    return new SealedFileWriter(path, handle, objectKey);
  }

  async write(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < FRAME_BYTES) return;
    const all = Buffer.concat(this.pending, this.pendingBytes);
    let at = 0;
    for (; all.length - at >= FRAME_BYTES; at += FRAME_BYTES) await this.writeFrame(all.subarray(at, at + FRAME_BYTES), false);
    this.pending = at < all.length ? [all.subarray(at)] : [];
    this.pendingBytes = all.length - at;
  }

  /** Writes what is left as the final frame (possibly empty) and closes the file. */
  async finish(): Promise<void> {
    await this.writeFrame(Buffer.concat(this.pending, this.pendingBytes), true);
    this.pending = [];
    this.closed = true;
    await this.handle.sync();
    await this.handle.close();
  }

  /** Closes and deletes the file: nothing of an upload that failed stays on disk. */
  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.handle.close().catch(() => undefined);
    }
    await fs.rm(this.path, { force: true });
  }

  private async writeFrame(plaintext: Buffer, final: boolean): Promise<void> {
    await this.handle.write(sealFrame(this.fileKey, this.frames++, plaintext, final));
  }
}

async function readExactly(handle: fs.FileHandle, position: number, length: number, what: string): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(buffer, got, length - got, position + got);
    if (bytesRead === 0) throw new Error(`sealed file is cut short in its ${what}`);
    got += bytesRead;
  }
  return buffer;
}

/** The data key id a sealed file names in its header. */
export async function sealedFileKeyId(path: string): Promise<number> {
  const handle = await fs.open(path, 'r');
  try {
    const head = await readExactly(handle, 0, MAGIC.length + 6, 'header');
    if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('not a sealed dataset file');
    return head.readUInt32BE(MAGIC.length);
  } finally {
    await handle.close();
  }
}

/**
 * The plaintext of a sealed file, one frame (up to 1 MiB) at a time. `keyFor` opens the data key the header
 * names. Throws when a frame was altered or the file ends before its final frame.
 */
export async function* readSealedFile(path: string, keyFor: (dataKeyId: number) => Promise<Buffer>): AsyncGenerator<Buffer> {
  const handle = await fs.open(path, 'r');
  try {
    const head = await readExactly(handle, 0, MAGIC.length + 6, 'header');
    if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('not a sealed dataset file');
    const wrappedLength = head.readUInt16BE(MAGIC.length + 4);
    const wrapped = await readExactly(handle, head.length, wrappedLength, 'header');
    const fileKey = unseal(await keyFor(head.readUInt32BE(MAGIC.length)), wrapped);
    let position = head.length + wrappedLength;
    for (let index = 0; ; index++) {
      const frameHead = await readExactly(handle, position, FRAME_HEAD_BYTES, 'frames');
      const final = frameHead.readUInt8(0) === 1;
      const length = frameHead.readUInt32BE(1);
      if (length > MAX_FRAME_BYTES) throw new Error('sealed file has a corrupt frame length');
      const body = await readExactly(handle, position + FRAME_HEAD_BYTES, TAG_BYTES + length, 'frames');
      const decipher = createDecipheriv('aes-256-gcm', fileKey, frameIv(index));
      decipher.setAAD(frameHead);
      decipher.setAuthTag(body.subarray(0, TAG_BYTES));
      const plaintext = Buffer.concat([decipher.update(body.subarray(TAG_BYTES)), decipher.final()]);
      position += FRAME_HEAD_BYTES + TAG_BYTES + length;
      if (plaintext.length > 0) yield plaintext;
      if (final) {
        const { size } = await handle.stat();
        if (size !== position) throw new Error('sealed file has bytes after its final frame');
        return;
      }
    }
  } finally {
    await handle.close();
  }
}

/**
 * Re-seals a file's own key (in its header) under another data key, in place: the wrapped key has the same
 * length under any data key, so only the header's key id and wrapped key change and no frame is touched,
 * however large the file (moving a dataset under its owner's key, for crypto-shredding). Returns the data
 * key id the header now names.
 */
export async function rewrapSealedFileKey(path: string, keyFor: (dataKeyId: number) => Promise<Buffer>, target: { id: number; key: Buffer }): Promise<number> {
  const handle = await fs.open(path, 'r+');
  try {
    const head = await readExactly(handle, 0, MAGIC.length + 6, 'header');
    if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('not a sealed dataset file');
    const oldId = head.readUInt32BE(MAGIC.length);
    if (oldId === target.id) return oldId;
    const wrapped = await readExactly(handle, head.length, head.readUInt16BE(MAGIC.length + 4), 'header');
    const header = rewrappedHeader({ dataKeyId: oldId, wrapped, length: head.length + wrapped.length }, unseal(await keyFor(oldId), wrapped), target);
    await handle.write(header, 0, header.length, 0);
    await handle.sync();
    return target.id;
  } finally {
    await handle.close();
  }
}
