import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { ensureUiBuild } from './next-build';

// A double of `next build` (it cannot run in a scratch directory without the whole app): like the real one it
// refuses to run beside another build in the same directory, takes a moment, and leaves .next/BUILD_ID.
const NEXT_DOUBLE = `
const fs = require('node:fs');
fs.mkdirSync('.next', { recursive: true });
try { fs.writeFileSync('.next/lock', '', { flag: 'wx' }); } catch { console.error('Another next build process is already running.'); process.exit(1); }
fs.appendFileSync('builds.log', process.pid + '\\n');
setTimeout(() => { fs.writeFileSync('.next/BUILD_ID', 'x'); fs.rmSync('.next/lock'); }, 400);
`;

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

function scratchCheckout() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-ui-build-'));
  roots.push(root);
  fs.mkdirSync(path.join(root, 'app'));
  fs.writeFileSync(path.join(root, 'app', 'page.tsx'), 'export default function Page() { return null; }\n');
  const bin = path.join(root, 'node_modules', 'next', 'dist', 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'next'), NEXT_DOUBLE);
  return root;
}

const builds = (root: string) => fs.readFileSync(path.join(root, 'builds.log'), 'utf8').trim().split('\n').length;

test('starts that race build the UI once: the second waits for the first and reuses its build', async () => {
  const root = scratchCheckout();
  await Promise.all([ensureUiBuild(root), ensureUiBuild(root), ensureUiBuild(root)]);
  expect(builds(root)).toBe(1);
  expect(fs.existsSync(path.join(root, '.enclave-ui-build.lock'))).toBe(false);

  // A change to the sources is built again, once.
  fs.writeFileSync(path.join(root, 'app', 'page.tsx'), 'export default function Page() { return "changed"; }\n');
  await Promise.all([ensureUiBuild(root), ensureUiBuild(root)]);
  expect(builds(root)).toBe(2);
});

test('a lock left by a builder that died (kill -9) is taken over, not waited on forever', async () => {
  const root = scratchCheckout();
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  fs.writeFileSync(path.join(root, '.enclave-ui-build.lock'), dead.stdout.trim());
  await ensureUiBuild(root);
  expect(builds(root)).toBe(1);
});

test('a lock still being written (empty, just created) is waited on, not taken over', async () => {
  const root = scratchCheckout();
  const lock = path.join(root, '.enclave-ui-build.lock');
  fs.writeFileSync(lock, '');
  const building = ensureUiBuild(root);
  // A negative check: more than one of the waiter's 500 ms polls passes without a build.
  await new Promise((r) => setTimeout(r, 700));
  expect(fs.existsSync(path.join(root, 'builds.log'))).toBe(false);
  fs.rmSync(lock);
  await building;
  expect(builds(root)).toBe(1);
});
