import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, env, type Env } from '../core/env';
import type { Db } from '../db/client';
import { ArtifactError, type ArtifactBackend } from './backend';
import { dirBackend } from './dir-backend';
import { s3Backend, type S3Settings } from './s3-backend';
import { ArtifactStore, dataKeysOf } from './store';

export type ArtifactEnv = Pick<
  Env,
  | 'dataDir'
  | 'ENCLAVE_ARTIFACTS'
  | 'ENCLAVE_ARTIFACTS_DIR'
  | 'ENCLAVE_S3_ENDPOINT'
  | 'ENCLAVE_S3_BUCKET'
  | 'ENCLAVE_S3_REGION'
  | 'ENCLAVE_S3_PREFIX'
  | 'ENCLAVE_S3_ACCESS_KEY_ID'
  | 'ENCLAVE_S3_ACCESS_KEY_ID_FILE'
  | 'ENCLAVE_S3_SECRET_ACCESS_KEY'
  | 'ENCLAVE_S3_SECRET_ACCESS_KEY_FILE'
  | 'ENCLAVE_S3_FORCE_PATH_STYLE'
  | 'ENCLAVE_S3_SSE'
  | 'ENCLAVE_S3_SSE_KMS_KEY_ID'
  | 'ENCLAVE_S3_PART_MB'
>;

function secret(e: ArtifactEnv, inline: 'ENCLAVE_S3_ACCESS_KEY_ID' | 'ENCLAVE_S3_SECRET_ACCESS_KEY'): string | undefined {
  const fileVar = `${inline}_FILE` as const;
  const file = e[fileVar];
  if (e[inline] && file) throw new ConfigError(`${inline} and ${fileVar}: set one, not both`);
  if (!file) return e[inline];
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new ConfigError(`${fileVar}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The S3 settings from the environment; a ConfigError naming the variable when they do not fit together. */
export function s3SettingsFrom(e: ArtifactEnv): S3Settings {
  if (!e.ENCLAVE_S3_BUCKET) throw new ConfigError('ENCLAVE_S3_BUCKET: required with ENCLAVE_ARTIFACTS=s3');
  const accessKeyId = secret(e, 'ENCLAVE_S3_ACCESS_KEY_ID');
  const secretAccessKey = secret(e, 'ENCLAVE_S3_SECRET_ACCESS_KEY');
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey))
    throw new ConfigError('ENCLAVE_S3_ACCESS_KEY_ID and ENCLAVE_S3_SECRET_ACCESS_KEY (or their _FILE forms): set both, or neither for the default credential chain');
  if (e.ENCLAVE_S3_SSE_KMS_KEY_ID && e.ENCLAVE_S3_SSE !== 'aws:kms') throw new ConfigError('ENCLAVE_S3_SSE_KMS_KEY_ID: only with ENCLAVE_S3_SSE=aws:kms');
  return {
    endpoint: e.ENCLAVE_S3_ENDPOINT,
    bucket: e.ENCLAVE_S3_BUCKET,
    region: e.ENCLAVE_S3_REGION,
    prefix: e.ENCLAVE_S3_PREFIX,
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
    forcePathStyle: e.ENCLAVE_S3_FORCE_PATH_STYLE,
    sse:
      e.ENCLAVE_S3_SSE === 'none'
        ? undefined
        : e.ENCLAVE_S3_SSE === 'AES256'
          ? { mode: 'AES256' }
          : { mode: 'aws:kms', kmsKeyId: e.ENCLAVE_S3_SSE_KMS_KEY_ID },
    partBytes: e.ENCLAVE_S3_PART_MB * 1024 * 1024,
  };
}

export function backendFrom(e: ArtifactEnv): ArtifactBackend {
  if (e.ENCLAVE_ARTIFACTS === 's3') return s3Backend(s3SettingsFrom(e));
  if (e.ENCLAVE_S3_BUCKET) throw new ConfigError('ENCLAVE_S3_BUCKET is set but ENCLAVE_ARTIFACTS is not s3: set ENCLAVE_ARTIFACTS=s3, or unset the bucket');
  return dirBackend(e.ENCLAVE_ARTIFACTS_DIR ?? e.dataDir);
}

// One backend (one S3 client and its sockets) per configuration, for the whole process.
const backends = new Map<string, ArtifactBackend>();

/**
 * The configured store's backend, created once per process. `where` a plain directory (tests, tools given
 * a data directory of their own) is the directory store over it.
 */
export function artifactBackend(e: ArtifactEnv): ArtifactBackend {
  // Every setting the backend is made from (an in-memory key, never logged).
  const id = JSON.stringify([
    e.ENCLAVE_ARTIFACTS,
    e.ENCLAVE_ARTIFACTS_DIR ?? e.dataDir,
    ...(e.ENCLAVE_ARTIFACTS === 's3'
      ? [e.ENCLAVE_S3_ENDPOINT, e.ENCLAVE_S3_BUCKET, e.ENCLAVE_S3_REGION, e.ENCLAVE_S3_PREFIX, e.ENCLAVE_S3_ACCESS_KEY_ID, e.ENCLAVE_S3_ACCESS_KEY_ID_FILE, e.ENCLAVE_S3_SECRET_ACCESS_KEY, e.ENCLAVE_S3_SECRET_ACCESS_KEY_FILE, e.ENCLAVE_S3_FORCE_PATH_STYLE, e.ENCLAVE_S3_SSE, e.ENCLAVE_S3_SSE_KMS_KEY_ID, e.ENCLAVE_S3_PART_MB]
      : []),
  ]);
  let backend = backends.get(id);
  if (!backend) backends.set(id, (backend = backendFrom(e)));
  return backend;
}

/** The sealed store over the configured backend, opening and sealing with this database's data keys. */
export const artifactStore = (e: ArtifactEnv, db: Db, masterKey: Buffer) => new ArtifactStore(artifactBackend(e), dataKeysOf(db, masterKey));

/**
 * The store that holds what the install with data directory `dataDir` keeps: the configured one (a shared
 * directory or S3) when it is this process's own data directory, else the directory store over `dataDir`
 * (a test's or a tool's directory of its own). Code that is handed only a data directory (job deps,
 * maintenance) reaches the configured store through this, without every caller carrying a second handle.
 */
export function backendForDataDir(dataDir: string): ArtifactBackend {
  let configured: Env;
  try {
    configured = env();
  } catch {
    // A process that never parsed a valid configuration (a tool run with bare variables) has only the directory.
    return dirBackend(dataDir);
  }
  return path.resolve(dataDir) === configured.dataDir ? artifactBackend(configured) : dirBackend(dataDir);
}

/** A sealed store given either a store or a data directory (see backendForDataDir). */
export function storeFor(where: ArtifactStore | string, db: Db, masterKey: Buffer): ArtifactStore {
  return typeof where === 'string' ? new ArtifactStore(backendForDataDir(where), dataKeysOf(db, masterKey)) : where;
}

/**
 * Where the store is, or a ConfigError that says why it cannot be used (run at start, before taking work:
 * an unreachable bucket stops the start with one line, not an SDK stack at the first upload).
 */
export async function checkArtifactStore(e: ArtifactEnv): Promise<string> {
  const backend = artifactBackend(e);
  try {
    await backend.check();
  } catch (err) {
    throw new ConfigError(`Artifact store ${backend.where}: ${err instanceof ArtifactError ? err.message : (err as Error).message}`);
  }
  return backend.where;
}

export async function closeArtifactBackends(): Promise<void> {
  for (const backend of backends.values()) await backend.close().catch(() => undefined);
  backends.clear();
}
