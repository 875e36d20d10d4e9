import { createHash, createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Env } from '../core/env';
import { runMasterKeyCommand } from './master-key-command';

/** Decodes a 32-byte key written as 64 hex characters or as base64 (standard or URL-safe). */
export function decodeKey(text: string, name = 'ENCLAVE_MASTER_KEY'): Buffer {
  const trimmed = text.trim();
  const isHex = /^[0-9a-fA-F]{64}$/.test(trimmed);
  // Node's base64 decoder skips characters it does not know: check the alphabet, so junk is not a key.
  if (!isHex && !/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) throw new Error(`${name} must be 32 bytes, as 64 hex characters or base64`);
  const key = isHex ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) throw new Error(`${name} must be 32 bytes, as 64 hex characters or base64 (got ${key.length} bytes)`);
  return key;
}

export function masterKeyFile(env: Pick<Env, 'dataDir'>): string {
  return path.join(env.dataDir, 'master.key');
}

export type MasterKeySource = 'ENCLAVE_MASTER_KEY' | 'ENCLAVE_MASTER_KEY_FILE' | 'ENCLAVE_MASTER_KEY_COMMAND' | 'data directory';

export interface LoadedMasterKey {
  key: Buffer;
  source: MasterKeySource;
  /** The file it was read from (ENCLAVE_MASTER_KEY_FILE or the data directory's). */
  file?: string;
  /** Said at start: a key a copy of the data directory carries is no key at all. */
  warnings: string[];
}

export type MasterKeyEnv = Pick<
  Env,
  'dataDir' | 'ENCLAVE_MASTER_KEY' | 'ENCLAVE_MASTER_KEY_FILE' | 'ENCLAVE_MASTER_KEY_COMMAND' | 'ENCLAVE_MASTER_KEY_COMMAND_TIMEOUT_MS'
>;

const SOURCES = ['ENCLAVE_MASTER_KEY', 'ENCLAVE_MASTER_KEY_FILE', 'ENCLAVE_MASTER_KEY_COMMAND'] as const;

/**
 * The key that wraps every data key, from the one source configured: ENCLAVE_MASTER_KEY (the value),
 * ENCLAVE_MASTER_KEY_FILE (a file only its owner can read) or ENCLAVE_MASTER_KEY_COMMAND (its output).
 * With none, from the data directory, generated there (mode 0600) on first use so a one-machine
 * install works out of the box, with a warning, since a copy of that directory then opens everything.
 * Every process that needs the key (each role, each admin command) loads it here.
 */
export async function loadMasterKey(env: MasterKeyEnv, { create = true } = {}): Promise<LoadedMasterKey> {
  const configured = SOURCES.filter((name) => env[name] !== undefined);
  if (configured.length > 1) throw new Error(`Set only one of ${configured.join(', ')}: each is a way to give the master key`);
  if (env.ENCLAVE_MASTER_KEY !== undefined) return { key: decodeKey(env.ENCLAVE_MASTER_KEY), source: 'ENCLAVE_MASTER_KEY', warnings: [] };
  if (env.ENCLAVE_MASTER_KEY_COMMAND !== undefined) {
    const printed = await runMasterKeyCommand(env.ENCLAVE_MASTER_KEY_COMMAND, env.ENCLAVE_MASTER_KEY_COMMAND_TIMEOUT_MS);
    return { key: decodeKey(printed, 'The output of ENCLAVE_MASTER_KEY_COMMAND'), source: 'ENCLAVE_MASTER_KEY_COMMAND', warnings: [] };
  }
  if (env.ENCLAVE_MASTER_KEY_FILE !== undefined) {
    const file = path.resolve(env.ENCLAVE_MASTER_KEY_FILE);
    const key = readKeyFile(file, 'ENCLAVE_MASTER_KEY_FILE');
    const warnings = isInside(file, env.dataDir) ? [besideTheData(file)] : [];
    return { key, source: 'ENCLAVE_MASTER_KEY_FILE', file, warnings };
  }
  const file = masterKeyFile(env);
  const warnings = [besideTheData(file)];
  if (fs.existsSync(file)) return { key: readKeyFile(file, file), source: 'data directory', file, warnings };
  if (!create) throw new Error(`No master key: set ENCLAVE_MASTER_KEY_FILE or ENCLAVE_MASTER_KEY_COMMAND, or start Enclave once to create ${file}`);
  fs.mkdirSync(env.dataDir, { recursive: true });
  const key = randomBytes(32);
  fs.writeFileSync(file, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  return { key, source: 'data directory', file, warnings };
}

/** A key file anyone but its owner can read is a key already shared: refused, not just warned about. */
function readKeyFile(file: string, name: string): Buffer {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (e) {
    throw new Error(`${name}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!stat.isFile()) throw new Error(`${name}: ${file} is not a regular file`);
  // Windows has no such mode bits; its ACLs are the operator's to set.
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
    throw new Error(`${name}: ${file} can be read or written by its group or others (mode ${mode}); run chmod 600 on it`);
  }
  return decodeKey(fs.readFileSync(file, 'utf8'), name === file ? file : `${name} (${file})`);
}

function isInside(file: string, dir: string): boolean {
  const relative = path.relative(path.resolve(dir), file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

function besideTheData(file: string): string {
  return (
    `The master key is in ${file}, inside the data directory: a copy or backup of that directory opens every stored message and secret. ` +
    'Keep it elsewhere: ENCLAVE_MASTER_KEY_FILE (a file outside the data directory, mode 0600) or ENCLAVE_MASTER_KEY_COMMAND (a command that prints it, e.g. from Vault or a KMS).'
  );
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
