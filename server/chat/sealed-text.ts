import type { Db } from '../db/client';
import { decryptText, encryptText } from '../security/encryption';

/**
 * Text in a column with no key-id column of its own (a title, a system prompt): sealed as the data key's
 * id (4 bytes, big-endian) ‖ the sealed text, under the owner's data key. Rotation still only re-wraps
 * data keys, and erasing the owner destroys the key.
 */
export async function sealWithKeyId(db: Db, masterKey: Buffer, text: string, ownerId: string): Promise<Buffer> {
  const { ciphertext, dataKeyId } = await encryptText(db, masterKey, text, ownerId);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(dataKeyId);
  return Buffer.concat([prefix, ciphertext]);
}

export function openWithKeyId(db: Db, masterKey: Buffer, sealed: Buffer): Promise<string> {
  return decryptText(db, masterKey, sealed.subarray(4), sealed.readUInt32BE(0));
}
