import type { Db } from '../db/client';
import { openWithKeyId, sealWithKeyId } from '../security/encryption';

/** A chunk's text and vector and a document's name and bytes: sealed as key id ‖ sealed bytes under the owner's data key. */
export const sealBytes = (db: Db, masterKey: Buffer, ownerId: string, plain: Buffer): Promise<Buffer> => sealWithKeyId(db, masterKey, plain, ownerId);
export const openBytes = (db: Db, masterKey: Buffer, sealed: Buffer): Promise<Buffer> => openWithKeyId(db, masterKey, sealed);

export const sealJson = (db: Db, masterKey: Buffer, ownerId: string, value: unknown) => sealBytes(db, masterKey, ownerId, Buffer.from(JSON.stringify(value)));
export const openJson = async <T>(db: Db, masterKey: Buffer, sealed: Buffer): Promise<T> => JSON.parse((await openBytes(db, masterKey, sealed)).toString('utf8')) as T;

/** A vector as little-endian float32 bytes (what is sealed). */
export function vectorBytes(v: ArrayLike<number>): Buffer {
  const f = Float32Array.from(v);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
}

export function bytesVector(b: Buffer): Float32Array {
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer);
}
