import type { Db } from '../db/client';
import { openWithKeyId, sealWithKeyId } from '../security/encryption';

/** Text (a title, a system prompt) sealed as key id ‖ sealed bytes under the owner's data key (encryption.ts). */
export function sealText(db: Db, masterKey: Buffer, text: string, ownerId: string): Promise<Buffer> {
  return sealWithKeyId(db, masterKey, Buffer.from(text, 'utf8'), ownerId);
}

export async function openText(db: Db, masterKey: Buffer, sealed: Buffer): Promise<string> {
  return (await openWithKeyId(db, masterKey, sealed)).toString('utf8');
}
