import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { seal, unseal } from '../security/encryption';
import { ArtifactError } from './backend';

/**
 * The sealed layout of every artifact: the one datasets were already stored in (`ENCDSET1`, see
 * server/lifecycle/datasets/sealed-file.ts), so files written before the store existed open unchanged.
 *
 *   header: "ENCDSET1" ‖ data key id (u32) ‖ wrapped length (u16) ‖ the object's own key sealed under the data key
 *   frame:  final flag (u8) ‖ plaintext length (u32) ‖ tag (16) ‖ ciphertext
 *
 * Envelope encryption: each object has a random key of its own, sealed by a data key, which is sealed by the
 * master key (server/security/encryption.ts); so frame IVs can be the frame's index. Every frame but the last
 * holds exactly FRAME_BYTES of plaintext and the last fewer (possibly none): where any plaintext byte lives
 * follows from the object's size, which is what lets a ranged read fetch and open only the frames it needs.
 * A frame's header bytes are its associated data: a frame cannot be altered, moved, dropped or made last.
 */
export const MAGIC = Buffer.from('ENCDSET1');
export const FRAME_BYTES = 1024 * 1024;
export const TAG_BYTES = 16;
export const FRAME_HEAD_BYTES = 5;
export const FRAME_OVERHEAD = FRAME_HEAD_BYTES + TAG_BYTES;
/** Magic, key id and wrapped length: what must be read to know the header's full length. */
export const FIXED_HEAD_BYTES = MAGIC.length + 6;
/** The header's length with a wrapped 32-byte key (iv 12 ‖ tag 16 ‖ 32), as this code writes it. */
export const HEADER_BYTES = FIXED_HEAD_BYTES + 12 + TAG_BYTES + 32;

export function frameIv(index: number): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeBigUInt64BE(BigInt(index), 4);
  return iv;
}

/** A new object's header and its own key. */
export function newHeader(dataKey: { id: number; key: Buffer }): { header: Buffer; objectKey: Buffer } {
  const objectKey = randomBytes(32);
  const wrapped = seal(dataKey.key, objectKey);
  const head = Buffer.alloc(FIXED_HEAD_BYTES);
  MAGIC.copy(head);
  head.writeUInt32BE(dataKey.id, MAGIC.length);
  head.writeUInt16BE(wrapped.length, MAGIC.length + 4);
  return { header: Buffer.concat([head, wrapped]), objectKey };
}

export interface ParsedHeader {
  dataKeyId: number;
  wrapped: Buffer;
  /** Where the first frame starts. */
  length: number;
}

export function parseHeader(bytes: Buffer, name: string): ParsedHeader {
  if (bytes.length < FIXED_HEAD_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) throw new ArtifactError('CORRUPT', `Artifact ${name} is not sealed by Enclave (no header)`);
  const wrappedLength = bytes.readUInt16BE(MAGIC.length + 4);
  const length = FIXED_HEAD_BYTES + wrappedLength;
  if (bytes.length < length) throw new ArtifactError('CORRUPT', `Artifact ${name} is cut short in its header`);
  return { dataKeyId: bytes.readUInt32BE(MAGIC.length), wrapped: bytes.subarray(FIXED_HEAD_BYTES, length), length };
}

export function openObjectKey(header: ParsedHeader, dataKey: Buffer, name: string): Buffer {
  try {
    return unseal(dataKey, header.wrapped);
  } catch {
    throw new ArtifactError('CORRUPT', `Artifact ${name}: its key does not open (the header was altered, or the data key is not the one it was sealed with)`);
  }
}

/** The header with its object key re-sealed under another data key: same length, frames untouched. */
export function rewrappedHeader(header: ParsedHeader, objectKey: Buffer, target: { id: number; key: Buffer }): Buffer {
  const wrapped = seal(target.key, objectKey);
  if (wrapped.length !== header.wrapped.length) throw new Error('the re-wrapped key has another length');
  const head = Buffer.alloc(FIXED_HEAD_BYTES);
  MAGIC.copy(head);
  head.writeUInt32BE(target.id, MAGIC.length);
  head.writeUInt16BE(wrapped.length, MAGIC.length + 4);
  return Buffer.concat([head, wrapped]);
}

export function sealFrame(objectKey: Buffer, index: number, plaintext: Buffer, final: boolean): Buffer {
  const head = Buffer.alloc(FRAME_HEAD_BYTES);
  head.writeUInt8(final ? 1 : 0, 0);
  head.writeUInt32BE(plaintext.length, 1);
  const cipher = createCipheriv('aes-256-gcm', objectKey, frameIv(index));
  cipher.setAAD(head);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([head, cipher.getAuthTag(), body]);
}

/** Where frames lie in an object of `storedBytes` whose header is `headerBytes` long. */
export interface Layout {
  headerBytes: number;
  frames: number;
  /** Plaintext bytes of the last frame (the others hold FRAME_BYTES). */
  lastBytes: number;
  plainBytes: number;
}

export function layoutOf(storedBytes: number, headerBytes: number, name: string): Layout {
  const body = storedBytes - headerBytes - FRAME_OVERHEAD;
  if (body < 0) throw new ArtifactError('CORRUPT', `Artifact ${name} is cut short (no final frame)`);
  const full = Math.floor(body / (FRAME_BYTES + FRAME_OVERHEAD));
  const lastBytes = body - full * (FRAME_BYTES + FRAME_OVERHEAD);
  if (lastBytes >= FRAME_BYTES) throw new ArtifactError('CORRUPT', `Artifact ${name} has a size no sealed object can have (cut short or padded)`);
  return { headerBytes, frames: full + 1, lastBytes, plainBytes: full * FRAME_BYTES + lastBytes };
}

export const frameOffset = (l: Layout, index: number) => l.headerBytes + index * (FRAME_BYTES + FRAME_OVERHEAD);
export const framePlainBytes = (l: Layout, index: number) => (index === l.frames - 1 ? l.lastBytes : FRAME_BYTES);

/** Opens frame `index` (its whole stored bytes), checking it is the frame the layout says lies there. */
export function openFrame(objectKey: Buffer, l: Layout, index: number, stored: Buffer, name: string): Buffer {
  const final = index === l.frames - 1;
  const expected = framePlainBytes(l, index);
  if (stored.length !== FRAME_OVERHEAD + expected || stored.readUInt8(0) !== (final ? 1 : 0) || stored.readUInt32BE(1) !== expected)
    throw new ArtifactError('CORRUPT', `Artifact ${name}: frame ${index} is damaged (its length or final flag is not where the object's size puts it)`);
  const decipher = createDecipheriv('aes-256-gcm', objectKey, frameIv(index));
  decipher.setAAD(stored.subarray(0, FRAME_HEAD_BYTES));
  decipher.setAuthTag(stored.subarray(FRAME_HEAD_BYTES, FRAME_OVERHEAD));
  try {
    return Buffer.concat([decipher.update(stored.subarray(FRAME_OVERHEAD)), decipher.final()]);
  } catch {
    throw new ArtifactError('CORRUPT', `Artifact ${name}: frame ${index} does not authenticate (the object was altered)`);
  }
}
