import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { log } from '../core/log';

export const repoRoot = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '../..');

// server/api/transformer.ts is in the browser bundle too (how tRPC answers are decoded).
const INPUTS = ['app', 'public', 'next.config.mjs', 'package-lock.json', 'tsconfig.json', 'server/api/transformer.ts'];

function* filesUnder(p: string): Generator<string> {
  if (!fs.existsSync(p)) return;
  const stat = fs.statSync(p);
  if (stat.isFile()) {
    yield p;
    return;
  }
  for (const entry of fs.readdirSync(p).sort()) yield* filesUnder(path.join(p, entry));
}

/** A hash of what the UI build is made from: a stale build is rebuilt, an up-to-date one reused. */
export function uiSourceHash(root = repoRoot): string {
  const hash = createHash('sha256');
  for (const input of INPUTS) {
    for (const file of filesUnder(path.join(root, input))) {
      hash.update(path.relative(root, file)).update('\0').update(fs.readFileSync(file)).update('\0');
    }
  }
  return hash.digest('hex');
}

const isFresh = (root: string, wanted: string) => {
  const marker = path.join(root, '.next', 'enclave-source-hash');
  return fs.existsSync(path.join(root, '.next', 'BUILD_ID')) && fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === wanted;
};

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Who holds the lock: its pid while that process lives ('writing' while a new lock is still empty: its
 * creator has not written the pid yet), 'dead' when the holder is gone (or the lock was left empty long
 * ago), 'gone' when the lock was released meanwhile.
 */
function lockHolder(lock: string): number | 'writing' | 'dead' | 'gone' {
  let text: string;
  let ageMs: number;
  try {
    text = fs.readFileSync(lock, 'utf8');
    ageMs = Date.now() - fs.statSync(lock).mtimeMs;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw e;
  }
  const pid = Number(text);
  if (text.trim() === '') return ageMs < 5_000 ? 'writing' : 'dead';
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : 'dead';
}

/**
 * One build at a time per checkout: two processes started together from one directory (`enclave start` and
 * `enclave web`, two web replicas, two tests) would otherwise both run `next build`, and the second fails
 * ("Another next build process is already running"). The lock file holds its builder's pid, so a build that
 * died (kill -9) leaves a lock the next start takes over. It lives beside .next, which a build empties.
 */
async function withBuildLock<T>(root: string, work: () => Promise<T>): Promise<T> {
  const lock = path.join(root, '.enclave-ui-build.lock');
  let waited = false;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = lockHolder(lock);
      if (holder === 'gone') continue;
      if (holder === 'dead') {
        fs.rmSync(lock, { force: true });
        continue;
      }
      if (!waited) log.info('waiting for another process building the web UI', { pid: holder });
      waited = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await work();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/** Builds the Next.js UI (production) unless the existing build matches the sources. */
export async function ensureUiBuild(root = repoRoot): Promise<void> {
  const wanted = uiSourceHash(root);
  if (isFresh(root, wanted)) return;
  await withBuildLock(root, async () => {
    // Another process may have built it while this one waited for the lock.
    if (isFresh(root, wanted)) return;
    log.info('building the web UI (once per change; about a minute on two cores)');
    await execa(process.execPath, [path.join(root, 'node_modules', 'next', 'dist', 'bin', 'next'), 'build'], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { NEXT_TELEMETRY_DISABLED: '1' },
    });
    fs.writeFileSync(path.join(root, '.next', 'enclave-source-hash'), wanted);
  });
}
