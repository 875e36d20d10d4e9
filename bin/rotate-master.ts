import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { Db } from '../server/db/client';
import type { Env } from '../server/env';
import { rotateMasterKey } from '../server/security/encryption';
import { keyFingerprint, masterKeyFile } from '../server/security/master-key';

/**
 * `enclave keys rotate-master`: a new master key re-wraps every data key in one transaction; messages
 * are not rewritten. With the key in the data directory, the file is replaced after the commit;
 * with ENCLAVE_MASTER_KEY, the new value is printed for the operator to install.
 */
export async function rotateMasterKeyCommand(env: Env, db: Db, oldKey: Buffer): Promise<void> {
  const newKey = randomBytes(32);
  const file = masterKeyFile(env);
  const staged = `${file}.next`;
  if (!env.ENCLAVE_MASTER_KEY) fs.writeFileSync(staged, newKey.toString('hex') + '\n', { mode: 0o600 });
  const { rewrapped } = await rotateMasterKey(db, oldKey, newKey);
  if (!env.ENCLAVE_MASTER_KEY) {
    fs.renameSync(staged, file);
    process.stdout.write(`Re-wrapped ${rewrapped} data key(s) under master key ${keyFingerprint(newKey)}; ${file} now holds it.\n`);
    process.stdout.write('Restart every running role soon: until then they keep the data keys they already opened, but cannot open others.\n');
    return;
  }
  process.stdout.write(`Re-wrapped ${rewrapped} data key(s) under master key ${keyFingerprint(newKey)}.\n`);
  process.stdout.write('Set ENCLAVE_MASTER_KEY to the value below for every role, then restart them. The old key no longer opens anything.\n');
  process.stdout.write(newKey.toString('hex') + '\n');
}
