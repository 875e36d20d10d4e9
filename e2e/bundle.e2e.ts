// The air-gapped proof of the offline bundle (`npm run bundle`): unpacked, installed and started inside a
// network namespace with only loopback, with no Node on PATH but the bundle's, with no PostgreSQL or Redis
// configured (Enclave runs its own under the data directory), and a chat held in Chromium in the same
// namespace. strace records every connect and datagram of the installer and of Enclave, so an attempt to
// reach the network is seen even when the product swallows the error. Needs root (unshare, nsenter).
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, screenshot, sendAndWait, signIn, waitForModel } from './harness';
import { chromiumIn, hostProgramsWithoutNode, openLoopbackNetns, type LoopbackNetns } from './bundle/netns';
import { outboundAttempts, straceArgs } from './bundle/outbound';

const version = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version as string;
const bundleName = `enclave-${version}-linux-x64`;
const tarball = path.join(repoRoot, 'dist', `${bundleName}.tar.gz`);
const READY = /Enclave is ready on (http:\/\/\S+)/;
const adminEmail = 'admin@example.test';
const adminPassword = `bundle-${randomBytes(9).toString('base64url')}`;

let tmp: string;
let netns: LoopbackNetns;
let browser: Browser | undefined;
let page: Page;
let enclave: ChildProcess | undefined;
let enclaveExited: Promise<void> | undefined;
let enclaveOutput = '';
let installOutput = '';
let prefix: string;
let cleanEnv: Record<string, string>;
const figures: Record<string, number> = {};
const lengthsSeen: number[] = [];

const since = (t: number) => Math.round(performance.now() - t);

/** Runs a command inside the namespace, with the clean environment. */
function inNetns(cmd: string[], opts: { cwd?: string; env?: Record<string, string>; reject?: boolean } = {}) {
  return execa(netns.enter[0]!, [...netns.enter.slice(1), ...cmd], { cwd: opts.cwd, env: { ...cleanEnv, ...opts.env }, extendEnv: false, reject: opts.reject ?? true, all: true });
}

/** The pid of the installed Enclave's Node process (found by its command line, under strace and nsenter). */
function enclavePid(): number | undefined {
  const script = path.join(prefix, 'lib', 'enclave', 'bin', 'enclave.mjs');
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[1] === script && argv[2] === 'start') return Number(entry);
    } catch {
      // The process ended while the list was read.
    }
  }
  return undefined;
}

async function stopEnclave() {
  const pid = enclavePid();
  if (pid) process.kill(pid, 'SIGTERM');
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 45_000).unref());
  if (enclaveExited && (await Promise.race([enclaveExited, timeout])) === 'timeout') {
    enclave?.kill('SIGKILL');
    throw new Error('the installed Enclave did not stop within 45 s of SIGTERM');
  }
}

beforeAll(async () => {
  // What the proof needs from the host, said up front rather than as a failure halfway through.
  if (process.getuid?.() !== 0) throw new Error('the bundle test needs root: it creates a network namespace (unshare, nsenter)');
  for (const program of ['unshare', 'nsenter', 'strace', 'ip']) {
    if ((await execa('sh', ['-c', `command -v ${program}`], { reject: false })).exitCode !== 0) {
      throw new Error(`the bundle test needs ${program} (Debian: apt-get install -y ${program === 'ip' ? 'iproute2' : program === 'strace' ? 'strace' : 'util-linux'})`);
    }
  }
  // Built here, or reused when dist/ holds one from the same inputs (build.sh decides). A checkout without
  // the demo model (models/stories260K.gguf) takes it from the shared models folder the other tests use.
  let started = performance.now();
  const modelDir = fs.existsSync(path.join(repoRoot, 'models', 'stories260K.gguf')) ? {} : { BUNDLE_MODEL_DIR: path.resolve(repoRoot, '../shared/models') };
  const build = await execa('bash', ['scripts/bundle/build.sh'], { cwd: repoRoot, env: modelDir, all: true, reject: false });
  if (build.exitCode !== 0) throw new Error(`npm run bundle failed:\n${build.all?.slice(-4000)}`);
  figures.buildMs = since(started);
  const reused = /is up to date/.test(build.all ?? '');
  figures.tarballBytes = fs.statSync(tarball).size;

  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-bundle-'));
  // The embedded PostgreSQL runs as the `postgres` user, which must traverse to the data directory.
  fs.chmodSync(tmp, 0o755);
  prefix = path.join(tmp, 'opt');
  const programs = hostProgramsWithoutNode(path.join(tmp, 'host-programs'));
  cleanEnv = { PATH: `${path.join(prefix, 'bin')}:${programs}`, HOME: tmp, LANG: 'C.UTF-8' };
  netns = await openLoopbackNetns();

  // The clock an operator would hold: from the tarball to a streamed reply in the browser.
  const unpackStarted = performance.now();
  started = unpackStarted;
  await inNetns(['tar', '-xzf', tarball, '-C', tmp]);
  figures.unpackMs = since(started);
  started = performance.now();
  const install = await inNetns(['strace', ...straceArgs(path.join(tmp, 'strace-install.log')), 'sh', path.join(tmp, bundleName, 'install.sh'), '--prefix', prefix], {
    reject: false,
  });
  installOutput = install.all ?? '';
  if (install.exitCode !== 0) throw new Error(`install.sh failed:\n${installOutput}`);
  figures.installMs = since(started);

  // No DATABASE_URL, no REDIS_URL: the first start creates its own PostgreSQL and Redis under the data
  // directory (enclave.env, written by install.sh, puts it under the prefix), as a fresh install does.
  started = performance.now();
  const child = spawn(
    netns.enter[0]!,
    [...netns.enter.slice(1), 'strace', ...straceArgs(path.join(tmp, 'strace-enclave.log')), path.join(prefix, 'bin', 'enclave'), 'start'],
    // A clean environment on purpose; Next's typing of ProcessEnv wants NODE_ENV, which the installed wrapper sets.
    { cwd: tmp, env: { ...cleanEnv, ENCLAVE_ADMIN_EMAIL: adminEmail, ENCLAVE_ADMIN_PASSWORD: adminPassword } as unknown as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  enclave = child;
  enclaveExited = new Promise((resolve) => child.once('exit', () => resolve()));
  fs.mkdirSync(path.join(repoRoot, 'test-results'), { recursive: true });
  const log = fs.createWriteStream(path.join(repoRoot, 'test-results', 'enclave-bundle.log'));
  const collect = (c: Buffer) => {
    enclaveOutput += c.toString();
    log.write(c);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the installed Enclave did not report ready within 5 minutes:\n${enclaveOutput.slice(-4000)}`)), 300_000);
    child.stdout.on('data', () => {
      const match = READY.exec(enclaveOutput);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!.replace(/\/$/, ''));
      }
    });
    void enclaveExited!.then(() => {
      clearTimeout(timer);
      reject(new Error(`the installed Enclave exited before it was ready:\n${enclaveOutput.slice(-4000)}`));
    });
  });
  figures.startToReadyMs = since(started);

  started = performance.now();
  browser = await chromium.launch({
    executablePath: chromiumIn(netns, path.join(tmp, 'chromium-in-netns')),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' })).newPage();
  await signIn(page, url, adminEmail, adminPassword);
  await waitForModel(page);
  // Every distinct length the newest reply has while it streams: two or more non-empty ones mean it streamed.
  await page.exposeFunction('__bundleLength', (n: number) => lengthsSeen.push(n));
  await page.evaluate(() => {
    new MutationObserver(() => {
      const all = document.querySelectorAll('[data-testid=message-assistant] [data-testid=message-content]');
      const n = all[all.length - 1]?.textContent?.length;
      if (n !== undefined) void (window as unknown as { __bundleLength(n: number): void }).__bundleLength(n);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await sendAndWait(page, 'Tell me a story about a lighthouse');
  figures.readyToReplyMs = since(started);
  figures.unpackToChatMs = since(unpackStarted);
  await screenshot(page, 'bundle-chat');

  const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  process.stdout.write(
    `\nbundle: tarball ${mb(figures.tarballBytes)}; ${reused ? 'reused' : 'built'} in ${s(figures.buildMs)}; unpack ${s(figures.unpackMs)}, install ${s(figures.installMs)}, ` +
      `start to ready ${s(figures.startToReadyMs)}, sign-in and first reply ${s(figures.readyToReplyMs)}: unpack to a ready chat ${s(figures.unpackToChatMs)}\n`,
  );
  fs.writeFileSync(path.join(repoRoot, 'test-results', 'bundle-figures.json'), JSON.stringify(figures, null, 2));
});

afterAll(async () => {
  await browser?.close();
  await stopEnclave().catch(() => enclave?.kill('SIGKILL'));
  netns?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the offline bundle on a machine with no network', () => {
  it('ran in a namespace whose only interface is loopback, with no Node on PATH but the bundle', async () => {
    const links = await inNetns(['ip', '-o', 'link', 'show']);
    expect(links.stdout.trim().split('\n').map((l) => l.split(':')[1]!.trim())).toEqual(['lo']);
    expect((await inNetns(['ip', 'route', 'get', '1.1.1.1'], { reject: false })).exitCode).not.toBe(0);
    const found = await inNetns(['sh', '-c', 'command -v node npm npx || true']);
    expect(found.stdout.trim()).toBe('');
    // The process that served the chat runs the bundle's Node, from the install.
    const pid = enclavePid();
    expect(pid, 'the installed Enclave is running').toBeDefined();
    expect(fs.realpathSync(`/proc/${pid}/exe`)).toBe(fs.realpathSync(path.join(prefix, 'lib', 'enclave', 'node', 'bin', 'node')));
    expect(installOutput).toMatch(/Enclave \S+ is installed in .*\(Node v24\./);
  });

  it('started its own PostgreSQL and Redis and streamed a reply from the demo model', () => {
    expect(enclaveOutput).toContain('embedded PostgreSQL is running');
    expect(enclaveOutput).toContain('started redis-server under the data directory');
    expect(enclaveOutput).toMatch(/models directory registered.*stories260K/);
    // The UI was built into the bundle: the installed copy never builds it (no dev dependencies there).
    expect(enclaveOutput).not.toContain('building the web UI');
    expect(new Set(lengthsSeen.filter((n) => n > 0)).size, `lengths seen: ${lengthsSeen.join(',')}`).toBeGreaterThanOrEqual(2);
  });

  it('sees an outbound attempt when there is one (the check below can fail)', async () => {
    const logFile = path.join(tmp, 'strace-control.log');
    const node = path.join(prefix, 'lib', 'enclave', 'node', 'bin', 'node');
    // 192.0.2.1 is TEST-NET-1: never routed anywhere, and unreachable here in any case.
    const script = "require('net').connect(443, '192.0.2.1').on('error', (e) => console.log(e.code))";
    const run = await inNetns(['strace', ...straceArgs(logFile), node, '-e', script]);
    expect(run.stdout.trim()).toBe('ENETUNREACH');
    expect(outboundAttempts(fs.readFileSync(logFile, 'utf8')).join('\n')).toContain('192.0.2.1');
  });

  it('made no outbound connection or datagram while installing, starting and chatting', async () => {
    await browser?.close();
    browser = undefined;
    await stopEnclave();
    expect(enclaveOutput).toContain('stopped');
    const attempts = [...outboundAttempts(fs.readFileSync(path.join(tmp, 'strace-install.log'), 'utf8')), ...outboundAttempts(fs.readFileSync(path.join(tmp, 'strace-enclave.log'), 'utf8'))];
    expect(attempts, 'calls to a non-loopback address').toEqual([]);
    expect(enclaveOutput).not.toMatch(/ENOTFOUND|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH/);
  });

  it("checks the shipped SBOM against an advisory mirror offline, with the bundle's own Node and script", async () => {
    const app = path.join(prefix, 'lib', 'enclave');
    const mirror = path.join(tmp, 'advisories');
    fs.mkdirSync(mirror);
    const pgVersion = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'pg', 'package.json'), 'utf8')).version as string;
    // An OSV record (the format of OSV's npm export) against the pg that ships, and one against a version that does not.
    const osv = (id: string, name: string, versions: string[]) => ({ schema_version: '1.6.0', id, modified: new Date().toISOString(), summary: `${id} (test)`, affected: [{ package: { ecosystem: 'npm', name }, versions }], database_specific: { severity: 'HIGH' } });
    fs.writeFileSync(path.join(mirror, 'a.json'), JSON.stringify(osv('TEST-BUNDLE-1', 'pg', [pgVersion])));
    fs.writeFileSync(path.join(mirror, 'b.json'), JSON.stringify(osv('TEST-BUNDLE-2', 'react', ['0.0.1'])));
    const audit = ['node/bin/node', '--import', 'tsx', 'scripts/supply-chain/audit-sbom.ts', '--sbom', 'sbom.cdx.json', '--advisories', mirror];
    const run = await inNetns(audit, { cwd: app, reject: false });
    expect(run.exitCode, run.all).toBe(1);
    expect(run.all).toContain(`pg@${pgVersion}`);
    expect(run.all).toContain('TEST-BUNDLE-1');
    expect(run.all).not.toContain('TEST-BUNDLE-2');
  });

  it('left the installed files as they were shipped, and wrote nothing into the install', async () => {
    const dest = path.join(prefix, 'lib', `enclave-${version}`);
    const check = await execa('sha256sum', ['--quiet', '--strict', '-c', 'SHA256SUMS'], { cwd: dest, reject: false, all: true });
    expect(check.exitCode, check.all).toBe(0);
    const listed = new Set(fs.readFileSync(path.join(dest, 'SHA256SUMS'), 'utf8').trim().split('\n').map((l) => l.slice(66)));
    const present = (await execa('find', ['.', '-type', 'f', '!', '-name', 'SHA256SUMS', '-printf', '%P\\n'], { cwd: dest })).stdout.trim().split('\n');
    // Next.js copies a static route's prerendered response (the icon) from the build into route-cache at its
    // first request; it ignores a failed write, so a read-only install serves it all the same.
    const written = present.filter((f) => !listed.has(f) && !f.startsWith('.next/server/route-cache/'));
    expect(written).toEqual([]);
  });

  it('refuses a damaged bundle and installs nothing', async () => {
    const unpacked = path.join(tmp, bundleName);
    fs.appendFileSync(path.join(unpacked, 'server', 'core', 'env.ts'), '\n// altered\n');
    const run = await inNetns(['sh', path.join(unpacked, 'install.sh'), '--prefix', path.join(tmp, 'opt2')], { reject: false });
    expect(run.exitCode).toBe(1);
    expect(run.all).toContain('server/core/env.ts: FAILED');
    expect(run.all).toContain('do not match SHA256SUMS');
    expect(fs.existsSync(path.join(tmp, 'opt2', 'lib', `enclave-${version}`))).toBe(false);
  });
});
