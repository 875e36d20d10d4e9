import { createCipheriv, createDecipheriv, createHash, randomBytes, type Hash } from 'node:crypto';
import fs from 'node:fs/promises';

/**
 * One part of a backup on disk: its plaintext in chunks of at most 1 MiB, each sealed with AES-256-GCM,
 * so neither writing nor reading holds a large file in memory. A chunk is
 * length (4, big-endian) ‖ iv (12) ‖ tag (16) ‖ ciphertext. Each chunk's additional data names the
 * backup, the part, the chunk's index and whether it is the last: a chunk moved to another part or
 * place, dropped, or a part cut short after a chunk fails authentication.
 */
const MAGIC = Buffer.from('ENCLBK01');
const CHUNK = 1 << 20;
const HEADER = 4 + 12 + 16;

export interface PartDigest {
  plainBytes: number;
  plainSha256: string;
  cipherBytes: number;
  cipherSha256: string;
}

export class PartError extends Error {
  constructor(
    readonly part: string,
    message: string,
  ) {
    super(`Backup part ${part}: ${message}`);
  }
}

const aad = (context: string, index: number, last: boolean) => Buffer.from(`${context}|${index}|${last ? 1 : 0}`);

export class PartWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private index = 0;
  private readonly plain: Hash = createHash('sha256');
  private readonly cipher: Hash = createHash('sha256');
  private plainBytes = 0;
  private cipherBytes = 0;

  private constructor(
    private readonly handle: fs.FileHandle,
    private readonly key: Buffer,
    /** `<backup id>/<part name>` */
    private readonly context: string,
  ) {}

  static async create(file: string, key: Buffer, context: string): Promise<PartWriter> {
    const writer = new PartWriter(await fs.open(file, 'wx', 0o600), key, context);
    await writer.emit(MAGIC);
    return writer;
  }

  async write(data: Buffer): Promise<void> {
    this.plain.update(data);
    this.plainBytes += data.length;
    this.pending.push(data);
    this.pendingBytes += data.length;
    while (this.pendingBytes >= CHUNK) {
      const all = Buffer.concat(this.pending);
      await this.seal(all.subarray(0, CHUNK), false);
      const rest = all.subarray(CHUNK);
      this.pending = rest.length ? [rest] : [];
      this.pendingBytes = rest.length;
    }
  }

  /** Seals what is left as the last chunk (an empty part is one empty last chunk) and syncs the file. */
  async finish(): Promise<PartDigest> {
    await this.seal(Buffer.concat(this.pending), true);
    this.pending = [];
    await this.handle.sync();
    await this.handle.close();
    return { plainBytes: this.plainBytes, plainSha256: this.plain.digest('hex'), cipherBytes: this.cipherBytes, cipherSha256: this.cipher.digest('hex') };
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => {});
  }

  private async seal(chunk: Buffer, last: boolean): Promise<void> {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(aad(this.context, this.index++, last));
    const body = Buffer.concat([c.update(chunk), c.final()]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length);
    await this.emit(Buffer.concat([length, iv, c.getAuthTag(), body]));
  }

  private async emit(bytes: Buffer): Promise<void> {
    this.cipher.update(bytes);
    this.cipherBytes += bytes.length;
    await this.handle.write(bytes);
  }
}

/** The SHA-256 and size of a part's file as stored, checked against the manifest before anything is opened. */
export async function fileDigest(file: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const handle = await fs.open(file, 'r');
  try {
    for await (const chunk of handle.createReadStream()) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
  } finally {
    await handle.close().catch(() => {});
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * A part's plaintext, chunk by chunk, each authenticated before it is yielded. Throws a PartError naming
 * the part for a wrong key, an altered, reordered or missing chunk, and a part cut short.
 */
export async function* readPart(file: string, key: Buffer, context: string, part: string): AsyncGenerator<Buffer> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (e) {
    throw new PartError(part, `cannot open ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const size = (await handle.stat()).size;
    const magic = Buffer.alloc(MAGIC.length);
    await handle.read(magic, 0, MAGIC.length, 0);
    if (!magic.equals(MAGIC)) throw new PartError(part, 'not an Enclave backup part');
    let position = MAGIC.length;
    for (let index = 0; ; index++) {
      if (position + HEADER > size) throw new PartError(part, 'cut short (no last chunk)');
      const header = Buffer.alloc(HEADER);
      await handle.read(header, 0, HEADER, position);
      const length = header.readUInt32BE(0);
      if (length > CHUNK || position + HEADER + length > size) throw new PartError(part, `chunk ${index} is damaged or cut short`);
      const body = Buffer.alloc(length);
      await handle.read(body, 0, length, position + HEADER);
      position += HEADER + length;
      const last = position === size;
      const d = createDecipheriv('aes-256-gcm', key, header.subarray(4, 16));
      d.setAAD(aad(context, index, last));
      d.setAuthTag(header.subarray(16, HEADER));
      let plain: Buffer;
      try {
        plain = Buffer.concat([d.update(body), d.final()]);
      } catch {
        throw new PartError(part, `chunk ${index} does not authenticate (a wrong backup key, or the part was altered)`);
      }
      if (plain.length) yield plain;
      if (last) return;
    }
  } finally {
    await handle.close().catch(() => {});
  }
}
