import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { log } from '../log';

export const repoRoot = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '../..');

const INPUTS = ['app', 'public', 'next.config.mjs', 'package-lock.json', 'tsconfig.json'];

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

/** Builds the Next.js UI (production) unless the existing build matches the sources. */
export async function ensureUiBuild(root = repoRoot): Promise<void> {
  const marker = path.join(root, '.next', 'enclave-source-hash');
  const wanted = uiSourceHash(root);
  if (fs.existsSync(path.join(root, '.next', 'BUILD_ID')) && fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === wanted) return;
  log.info('building the web UI (once per change; about a minute on two cores)');
  await execa(process.execPath, [path.join(root, 'node_modules', 'next', 'dist', 'bin', 'next'), 'build'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { NEXT_TELEMETRY_DISABLED: '1' },
  });
  fs.writeFileSync(marker, wanted);
}
