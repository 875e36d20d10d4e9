import { createHash, createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Env } from '../env';

/** Decodes a 32-byte key written as 64 hex characters or as base64. */
export function decodeKey(text: string, name = 'ENCLAVE_MASTER_KEY'): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) throw new Error(`${name} must be 32 bytes, as 64 hex characters or base64 (got ${key.length} bytes)`);
  return key;
}

export function masterKeyFile(env: Pick<Env, 'dataDir'>): string {
  return path.join(env.dataDir, 'master.key');
}

/**
 * The key that wraps every data key. From ENCLAVE_MASTER_KEY when set; otherwise from the data
 * directory, generated there (mode 0600) on first use so a one-machine install works out of the box.
 */
export function loadMasterKey(env: Pick<Env, 'dataDir' | 'ENCLAVE_MASTER_KEY'>, { create = true } = {}): Buffer {
  if (env.ENCLAVE_MASTER_KEY) return decodeKey(env.ENCLAVE_MASTER_KEY);
  const file = masterKeyFile(env);
  if (fs.existsSync(file)) return decodeKey(fs.readFileSync(file, 'utf8'), file);
  if (!create) throw new Error(`No master key: set ENCLAVE_MASTER_KEY or start Enclave once to create ${file}`);
  fs.mkdirSync(env.dataDir, { recursive: true });
  const key = randomBytes(32);
  fs.writeFileSync(file, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}

/** Identifies a master key without revealing it. */
export function keyFingerprint(key: Buffer): string {
  return createHash('sha256').update('enclave-master-fingerprint').update(key).digest('hex').slice(0, 16);
}

/**
 * The credential the web role uses to call the gateway on a signed-in user's behalf. Derived from the
 * master key, so every role of one install agrees on it without another secret to configure.
 */
export function internalToken(masterKey: Buffer): string {
  return 'enc-internal-' + createHmac('sha256', masterKey).update('enclave-internal-v1').digest('base64url');
}
