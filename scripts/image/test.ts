/**
 * `npm run image:test`: checks the image `npm run image:build` made, then runs Enclave inside its file system.
 *
 * 1. The image: size (under 400 MB without models), a numeric non-root USER, HEALTHCHECK, OCI labels, the SBOM.
 * 2. Its files (podman image mount): no setuid/setgid file, no compiler or package manager, nothing its user
 *    may write outside the data directory and the temporary directories.
 * 3. Enclave started with the image's ENTRYPOINT and CMD, as the image's user, on the image's root mounted
 *    read-only (this machine cannot run containers: chroot-run.ts), against this machine's PostgreSQL and
 *    Redis: /api/health, the image's own HEALTHCHECK command, a key made by `enclave keys create` inside the
 *    image, and a chat completion on the demo model through the gateway (/v1). Then a SIGTERM stop.
 *
 * ENCLAVE_IMAGE names another image (default: the one image:build wrote to dist/image/image-name).
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../server/core/net/free-port';
import { createEmptyTestDatabase, testRedisPrefix } from '../../server/testing/database';
import { duBytes, inspectImage, scanFileSystem } from './inspect';
import { namespaceInit, runInImage, runToEnd, type ChrootSpec } from './chroot-run';

const MAX_BYTES_WITHOUT_MODELS = 400 * 1_000_000;
const repoRoot = path.resolve(import.meta.dirname, '../..');
const outDir = process.env.ENCLAVE_IMAGE_OUT ?? path.join(repoRoot, 'dist/image');
const image = process.env.ENCLAVE_IMAGE ?? (fs.existsSync(path.join(outDir, 'image-name')) ? fs.readFileSync(path.join(outDir, 'image-name'), 'utf8').trim() : 'localhost/enclave:latest');

const failures: string[] = [];
const timings: Record<string, number> = {};
const started = performance.now();
function check(ok: boolean, what: string, detail = '') {
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? `: ${detail}` : ''}\n`);
  if (!ok) failures.push(what);
}
async function timed<T>(name: string, work: () => Promise<T>): Promise<T> {
  const t = performance.now();
  try {
    return await work();
  } finally {
    timings[name] = Math.round(performance.now() - t);
  }
}
const mb = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;

const cleanups: Array<() => unknown> = [];
async function cleanup() {
  for (const fn of cleanups.reverse()) await Promise.resolve().then(fn).catch((e) => process.stderr.write(`cleanup: ${(e as Error).message}\n`));
  cleanups.length = 0;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanup().then(() => process.exit(130)));

async function main() {
  if (process.getuid?.() !== 0) throw new Error('image:test needs root: it mounts the image and chroots into it (podman image mount, unshare, chroot)');
  try {
    execFileSync('podman', ['image', 'exists', image]);
  } catch {
    throw new Error(`no image ${image}: run \`npm run image:build\` first`);
  }
  const config = inspectImage(image);
  process.stdout.write(`image ${image} (${config.id.slice(0, 12)})\n`);

  // ---- the image's configuration
  const [uid, gid] = config.user.split(':').map(Number);
  check(/^\d+:\d+$/.test(config.user) && uid !== 0 && gid !== 0, 'runs as a numeric non-root user', config.user || '(none: root)');
  check(Boolean(config.healthcheck?.length), 'has a HEALTHCHECK', JSON.stringify(config.healthcheck));
  for (const label of ['title', 'description', 'version', 'revision', 'created', 'base.name']) {
    const key = `org.opencontainers.image.${label}`;
    check(Boolean(config.labels[key]), `label ${key}`, config.labels[key] ?? '');
  }
  const dataDir = config.env.ENCLAVE_DATA_DIR;
  check(Boolean(dataDir?.startsWith('/')), 'ENCLAVE_DATA_DIR is an absolute path', dataDir);

  const mount = await timed('mount', async () => execFileSync('podman', ['image', 'mount', image], { encoding: 'utf8' }).trim());
  cleanups.push(() => execFileSync('podman', ['image', 'unmount', image]));

  // ---- its files
  const models = config.env.ENCLAVE_MODELS_DIR ? duBytes(path.join(mount, config.env.ENCLAVE_MODELS_DIR)) : 0;
  check(config.size - models < MAX_BYTES_WITHOUT_MODELS, 'size without models under 400 MB', `${mb(config.size)} in all, ${mb(models)} of it models`);
  const scan = await timed('scan', async () => scanFileSystem(mount, uid!, gid!, ['/tmp', '/var/tmp', '/run/lock', dataDir!]));
  check(scan.setuid.length === 0, 'no setuid/setgid file or directory', scan.setuid.join(' '));
  check(scan.forbidden.length === 0, 'no compiler or package manager', scan.forbidden.join(' '));
  check(scan.writable.length === 0, "nothing the app's user may write outside the data directory and /tmp", scan.writable.slice(0, 10).join(' '));
  const sbomPath = path.join(mount, 'usr/share/enclave/sbom.cdx.json');
  const sbom = fs.existsSync(sbomPath) ? (JSON.parse(fs.readFileSync(sbomPath, 'utf8')) as { bomFormat?: string; components?: Array<{ name: string }> }) : undefined;
  const names = new Set(sbom?.components?.map((c) => c.name));
  check(sbom?.bomFormat === 'CycloneDX' && ['node', 'next', 'pg', 'node-llama-cpp'].every((n) => names.has(n)), 'CycloneDX SBOM in the image', `${sbom?.components?.length ?? 0} components`);
  check(!names.has('typescript') && !names.has('@node-llama-cpp/linux-x64-cuda'), 'SBOM lists only what the image holds');

  // ---- Enclave inside it
  const db = await createEmptyTestDatabase('image', 1);
  cleanups.push(() => db.drop());
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-image-data-'));
  fs.chownSync(data, uid!, gid!);
  cleanups.push(() => fs.rmSync(data, { recursive: true, force: true }));
  const port = await freePort();
  const admin = 'admin@image.test';
  const env = {
    ...config.env,
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: db.url,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: testRedisPrefix('image'),
    ENCLAVE_ADMIN_EMAIL: admin,
    ENCLAVE_ADMIN_PASSWORD: `image-${randomBytes(12).toString('base64url')}`,
  };
  const spec = (argv: string[]): ChrootSpec => ({ imageRoot: mount, dataDir: data, dataMount: dataDir!, user: config.user, cwd: config.workingDir, env, argv });

  const who = await runToEnd(spec(['/bin/sh', '-c', 'id -u; touch /app/.probe 2>&1 || true']));
  check(who.out.startsWith(`${uid}\n`) && /Read-only file system/.test(who.out), 'inside: the image user, root file system read-only', who.out.trim().replace(/\n/g, ' | '));

  const { child, done } = runInImage(spec([...config.entrypoint, ...config.cmd]));
  cleanups.push(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const url = await timed('start to ready', () =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready within 3 minutes:\n${output.slice(-3000)}`)), 180_000);
      const poll = setInterval(() => {
        const m = /Enclave is ready on (\S+)/.exec(output);
        if (!m) return;
        clearInterval(poll);
        clearTimeout(timer);
        resolve(m[1]!.replace('localhost', '127.0.0.1'));
      }, 100);
      void done.then((code) => {
        clearInterval(poll);
        clearTimeout(timer);
        reject(new Error(`exited (${code}) before it was ready:\n${output.slice(-3000)}`));
      });
    }),
  );
  const health = await fetch(`${url}/api/health`);
  check(health.status === 200, 'GET /api/health', `${health.status} ${await health.text()}`);
  const login = await timed('first page', () => fetch(`${url}/login`));
  const page = await login.text();
  check(login.status === 200 && page.includes('/_next/static/'), 'GET /login renders from the built UI', `${login.status}, ${page.length} bytes`);
  check(!output.includes('building the web UI'), 'no UI build at start (the image carries it)');
  const asset = /\/_next\/static\/[^"]+\.css/.exec(page)?.[0];
  const css = asset ? await fetch(`${url}${asset}`) : undefined;
  check(css?.status === 200, 'serves the built static assets', asset ?? 'no stylesheet linked');
  const hc = await timed('healthcheck', () => runToEnd(spec(config.healthcheck!.slice(1))));
  check(hc.code === 0, "the image's HEALTHCHECK command", hc.out.trim());

  const keys = await timed('keys create', () => runToEnd(spec(['enclave', 'keys', 'create', '--name', 'image-test', '--user', admin])));
  const key = keys.out.trim().split('\n').at(-1)?.trim() ?? '';
  check(keys.code === 0 && key.length > 20, '`enclave keys create` inside the image', keys.code === 0 ? 'key made' : keys.out.slice(-500));

  // The knowledge bases' vector index is a native addon (usearch's prebuilt linux-x64 build, its install
  // script denied): it must load and answer inside the image, on the image's Node and C library.
  const probe = "const { Index } = require('usearch'); const i = new Index({ dimensions: 4, metric: 'ip', quantization: 'f16', connectivity: 16 }); i.add(7n, new Float32Array([1, 0, 0, 0])); console.log(String(i.search(new Float32Array([1, 0, 0, 0]), 1, 1).keys[0]));";
  const ann = await runToEnd(spec(['node', '-e', probe]));
  check(ann.code === 0 && ann.out.trim() === '7', "the vector index's native addon loads inside the image", ann.out.trim().slice(-300));

  const answer = await timed('first chat completion', async () => {
    // The agent starts the demo model's engine after the ready line: until then the gateway has no replica.
    const deadline = Date.now() + 180_000;
    for (;;) {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'stories260K', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 24 }),
      });
      const body = (await res.json()) as { choices?: Array<{ message?: { content?: string } }>; usage?: { completion_tokens?: number }; error?: { message?: string } };
      if (res.status === 200 || Date.now() > deadline || ![502, 503, 404].includes(res.status)) return { status: res.status, body };
      await new Promise((r) => setTimeout(r, 1000));
    }
  });
  const text = answer.body.choices?.[0]?.message?.content ?? '';
  check(answer.status === 200 && text.length > 0 && (answer.body.usage?.completion_tokens ?? 0) > 0, 'chat completion on stories260K through /v1', answer.status === 200 ? JSON.stringify(text) : JSON.stringify(answer.body).slice(0, 300));

  const init = namespaceInit(child);
  const code = await timed('stop (SIGTERM)', async () => {
    if (init) process.kill(init, 'SIGTERM');
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000).unref());
    return Promise.race([done, timeout]);
  });
  check(code === 0, 'stops cleanly on SIGTERM to PID 1', String(code));
  check(!/EROFS|read-only file system/i.test(output), 'no write to the read-only root was attempted', (/.*(EROFS|read-only file system).*/i.exec(output) ?? [''])[0]);
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'test-run.log'), output);
}

try {
  await main();
} catch (e) {
  failures.push((e as Error).message);
  process.stderr.write(`image:test: ${(e as Error).message}\n`);
} finally {
  await cleanup();
}
timings.total = Math.round(performance.now() - started);
process.stdout.write(`timings (ms): ${JSON.stringify(timings)}\n`);
process.stdout.write(failures.length ? `image:test: ${failures.length} failed\n` : 'image:test: all passed\n');
process.exit(failures.length ? 1 : 0);
