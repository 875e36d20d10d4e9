import type { Db } from '../db/client';
import { dataKeyForOpening, dataKeyForSealing, seal, unseal } from '../security/encryption';

/**
 * Bytes sealed under the owner's data key as key id (4 bytes, big-endian) ‖ sealed bytes, the layout of
 * sealed titles (chat/sealed-text.ts), for a chunk's text and vector and a document's name and bytes.
 */
export async function sealBytes(db: Db, masterKey: Buffer, ownerId: string, plain: Buffer): Promise<Buffer> {
  const { id, key } = await dataKeyForSealing(db, masterKey, ownerId);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(id);
  return Buffer.concat([prefix, seal(key, plain)]);
}

export async function openBytes(db: Db, masterKey: Buffer, sealed: Buffer): Promise<Buffer> {
  const key = await dataKeyForOpening(db, masterKey, sealed.readUInt32BE(0));
  return unseal(key, sealed.subarray(4));
}

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
