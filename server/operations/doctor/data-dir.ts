import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Env } from '../../core/env';
import { fail, ok, reason, warn, type CheckResult } from './types';

const GiB = 1024 ** 3;

/** The nearest folder at or above `dir` that exists or cannot be looked into (a fresh install has no data directory yet). */
export function nearestExisting(dir: string): string {
  let at = path.resolve(dir);
  // Only ENOENT means "not there": existsSync would also say false for a folder the user may not enter.
  const missing = (p: string) => {
    try {
      fs.statSync(p);
      return false;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT';
    }
  };
  while (missing(at) && path.dirname(at) !== at) at = path.dirname(at);
  return at;
}

const WRITE_ACCESS = 'Give the user running Enclave write access (chown the directory to that user), or set ENCLAVE_DATA_DIR to a directory it owns';

/**
 * The data directory must take a file, as every role writes there (the embedded database, datasets, the
 * audit anchors). Probed by writing and removing a file, not by reading mode bits: ACLs, read-only mounts
 * and a full disk all show up that way, and nothing is left behind.
 */
export function checkDataDir(env: Pick<Env, 'dataDir'>): CheckResult {
  const dir = env.dataDir;
  const where = nearestExisting(dir);
  const creates = where === dir ? '' : `, so ${dir} cannot be created`;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(where);
  } catch (e) {
    return fail('data-dir', `${where} cannot be reached (${(e as NodeJS.ErrnoException).code ?? reason(e)})${creates}`, WRITE_ACCESS);
  }
  if (!stat.isDirectory()) return fail('data-dir', `${where} is not a directory${creates}`, `Point ENCLAVE_DATA_DIR at a directory (now ${dir})`);
  const probe = path.join(where, `.enclave-doctor-${randomBytes(4).toString('hex')}`);
  try {
    fs.writeFileSync(probe, 'ok', { mode: 0o600, flag: 'wx' });
    fs.rmSync(probe, { force: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? reason(e);
    return fail('data-dir', `${where} cannot be written (${code})${creates}`, code === 'EROFS' ? 'Mount a writable volume there, or set ENCLAVE_DATA_DIR to one' : WRITE_ACCESS);
  }
  return ok('data-dir', where === dir ? `${dir} is writable` : `${dir} does not exist yet; ${where} is writable, so the first start creates it`);
}

/** Free space where the data directory lives: the database, datasets and model outputs grow there. */
export function checkDiskSpace(env: Pick<Env, 'dataDir'>, minWarnGiB = 10, minFailGiB = 1): CheckResult {
  const where = nearestExisting(env.dataDir);
  let stats: fs.StatsFs;
  try {
    stats = fs.statfsSync(where);
  } catch (e) {
    return warn('disk', `free space at ${where} cannot be read (${(e as NodeJS.ErrnoException).code ?? reason(e)})`, WRITE_ACCESS);
  }
  const free = stats.bavail * stats.bsize;
  const text = `${(free / GiB).toFixed(1)} GiB free of ${((stats.blocks * stats.bsize) / GiB).toFixed(1)} GiB at ${where}`;
  if (free < minFailGiB * GiB) return fail('disk', text, `Free space there, or move ENCLAVE_DATA_DIR to a larger volume (under ${minFailGiB} GiB PostgreSQL and uploads start failing)`);
  if (free < minWarnGiB * GiB) return warn('disk', text, `Plan for more: datasets, model outputs and backups live under the data directory (at least ${minWarnGiB} GiB recommended)`);
  return ok('disk', text);
}
