import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeServerCertificate, makeTestCa, pemDir } from '../../http/testing/certificates';
import { writeNvidiaSmiDouble, type NvidiaSmiDouble } from '../../gpu/nvidia-smi/test-double';
import { ENCLAVE_BIN } from '../../../bin/testing/cli';
import { doctorExitCode, formatDoctor, runDoctor, type CheckResult } from './index';
import { checkTls } from './tls';
import { checkGpus } from './gpus';
import { checkMasterKey } from './master-key';
import { checkVllm } from './vllm';

/**
 * `enclave doctor` against real services and files: the machine's PostgreSQL and Redis, data directories
 * and key files made here, certificates generated here, and, for what cannot run on this machine, doubles
 * on PATH: nvidia-smi printing real captures, and a `vllm` that answers --version.
 */
let t: TestDatabase;
let root: string;
let nvidiaSmi: NvidiaSmiDouble;
let vllmDir: string;
const pems = pemDir();
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

beforeAll(async () => {
  t = await createTestDatabase('doctor');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-doctor-'));
  fs.chmodSync(root, 0o755);
  nvidiaSmi = writeNvidiaSmiDouble({ query: 'query-gpu/h100-80gb-mig-driver590.csv', topo: 'topo/8x-a100-sxm4-40gb-nv12.txt', apps: 'compute-apps/h100-80gb-three-processes.csv' });
  // A TEST DOUBLE for vLLM's executable: real `vllm --version` prints the version as its last line.
  vllmDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-vllm-double-'));
  fs.writeFileSync(path.join(vllmDir, 'vllm'), '#!/bin/sh\n[ "$1" = --version ] && { echo 0.11.0; exit 0; }\necho "vllm double: $*" >&2; exit 2\n', { mode: 0o755 });
}, 60_000);

afterAll(async () => {
  await t?.drop();
  nvidiaSmi?.remove();
  pems.remove();
  for (const dir of [root, vllmDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** nvidia-smi and vllm are found on PATH, as the agent finds them: the doubles first, for the call only. */
async function withPath<T>(dirs: string[], fn: () => Promise<T>): Promise<T> {
  const before = process.env.PATH;
  process.env.PATH = [...dirs, before].join(path.delimiter);
  try {
    return await fn();
  } finally {
    process.env.PATH = before;
  }
}

function keyFile(mode = 0o600): string {
  const file = path.join(root, `master-${randomBytes(3).toString('hex')}.key`);
  fs.writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode });
  fs.chmodSync(file, mode);
  return file;
}

const byCheck = (results: CheckResult[]) => Object.fromEntries(results.map((r) => [r.check, r]));

test('a sound install: every check ok, against the real PostgreSQL and Redis, with GPUs and vLLM on PATH', async () => {
  const ca = makeTestCa();
  const server = makeServerCertificate(ca, { notAfter: new Date(Date.now() + 200 * 86_400_000) });
  const dataDir = fs.mkdtempSync(path.join(root, 'data-'));
  const results = await withPath([nvidiaSmi.dir, vllmDir], () =>
    runDoctor({
      DATABASE_URL: t.url,
      REDIS_URL,
      ENCLAVE_DATA_DIR: dataDir,
      ENCLAVE_MASTER_KEY_FILE: keyFile(),
      ENCLAVE_TLS_CERT: pems.write('good.crt', server.certPem),
      ENCLAVE_TLS_KEY: pems.write('good.key', server.keyPem),
    }),
  );
  const found = byCheck(results);
  expect(results.map((r) => r.check)).toEqual(['node', 'config', 'data-dir', 'disk', 'database', 'redis', 'master-key', 'tls', 'artifacts', 'gpus', 'vllm']);
  // Node is ok on 24 and a warning on 20 to 23: which one depends on the machine running the test.
  expect(found.node!.status).toBe(Number(process.versions.node.split('.')[0]) >= 24 ? 'ok' : 'warn');
  for (const r of results.filter((r) => r.check !== 'node')) expect([r.check, r.status, r.fix]).toEqual([r.check, 'ok', undefined]);
  expect(found.database!.detail).toMatch(/^PostgreSQL \d+.* schema up to date \(\d+ migrations\)$/);
  expect(found.redis!.detail).toContain('Redis answers');
  expect(found['master-key']!.detail).toMatch(/^from ENCLAVE_MASTER_KEY_FILE \(.*master-.*\.key, mode 0600\)$/);
  expect(found.tls!.detail).toMatch(/CN=localhost; DNS:localhost, IP Address:127.0.0.1; valid until \d{4}-\d\d-\d\d \((199|200) days\)/);
  expect(found.gpus!.detail).toBe('1x NVIDIA H100 80GB HBM3 (driver 590.48.01, CUDA 13.1)');
  expect(found.vllm!.detail).toBe(`vLLM 0.11.0 (vllm)`);
  expect(doctorExitCode(results)).toBe(0);
  // The doctor changes nothing: no key was made, no database directory, nothing left in the data directory.
  expect(fs.readdirSync(dataDir)).toEqual([]);
}, 60_000);

test('a broken DATABASE_URL fails with a fix, the password hidden, and the exit code is 1', async () => {
  const wrongPort = byCheck(await runDoctor({ DATABASE_URL: 'postgres://enclave:s3cret-pw@127.0.0.1:1/enclave', REDIS_URL, ENCLAVE_DATA_DIR: root, ENCLAVE_MASTER_KEY_FILE: keyFile() }));
  expect(wrongPort.database).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^cannot use DATABASE_URL \(postgres:\/\/enclave:\*\*\*@127\.0\.0\.1:1\/enclave\): .*ECONNREFUSED/), fix: expect.stringContaining('Check DATABASE_URL') });
  expect(JSON.stringify(wrongPort)).not.toContain('s3cret-pw');
  const missingDb = await runDoctor({ DATABASE_URL: new URL('/enclave_doctor_no_such_db', t.url).toString(), REDIS_URL, ENCLAVE_DATA_DIR: root });
  expect(byCheck(missingDb).database).toMatchObject({ status: 'fail', detail: expect.stringContaining('database "enclave_doctor_no_such_db" does not exist') });
  expect(doctorExitCode(missingDb)).toBe(1);
  // Redis at a port nobody listens on, named explicitly: Enclave will not start its own in its place.
  const redis = byCheck(await runDoctor({ DATABASE_URL: t.url, REDIS_URL: 'redis://127.0.0.1:1', ENCLAVE_DATA_DIR: root }));
  expect(redis.redis).toMatchObject({ status: 'fail', fix: expect.stringContaining('REDIS_URL') });
}, 60_000);

test('`enclave doctor` as the unprivileged user of an image, on a data directory it cannot write: a FAIL line with the fix, exit 1', async () => {
  const dataDir = fs.mkdtempSync(path.join(root, 'readonly-'));
  fs.chmodSync(dataDir, 0o555);
  // As root every directory is writable: the command runs as nobody, as Enclave's image runs as a non-root user.
  const user = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const run = (args: string[]) =>
    execa(process.execPath, [ENCLAVE_BIN, 'doctor', ...args], { reject: false, ...user, env: { PATH: process.env.PATH!, DATABASE_URL: t.url, REDIS_URL, ENCLAVE_DATA_DIR: dataDir, ENCLAVE_VLLM_BIN: path.join(vllmDir, 'vllm'), LOG_LEVEL: 'warn' } });
  const text = await run([]);
  expect(text.exitCode, text.stderr).toBe(1);
  expect(text.stdout).toMatch(new RegExp(`^FAIL  data-dir +${dataDir} cannot be written \\(EACCES\\)$`, 'm'));
  expect(text.stdout).toMatch(/^ +fix: Give the user running Enclave write access/m);
  expect(text.stdout).toMatch(/^ok +database +PostgreSQL/m);
  expect(text.stdout).toMatch(/check\(s\) failed/);
  const json = await run(['--json']);
  expect(json.exitCode).toBe(1);
  const parsed = JSON.parse(json.stdout) as { ok: boolean; checks: CheckResult[] };
  expect(parsed.ok).toBe(false);
  expect(byCheck(parsed.checks)['data-dir']).toMatchObject({ status: 'fail', detail: `${dataDir} cannot be written (EACCES)` });
  // A directory it cannot even look into (mkdtemp's 0700, another user's): unreachable, not "to be created".
  const hidden = fs.mkdtempSync(path.join(root, 'hidden-'));
  fs.chmodSync(hidden, 0o700);
  const inner = await execa(process.execPath, [ENCLAVE_BIN, 'doctor', '--json'], { reject: false, ...user, env: { PATH: process.env.PATH!, DATABASE_URL: t.url, REDIS_URL, ENCLAVE_DATA_DIR: path.join(hidden, 'data') } });
  if (user.uid) expect(byCheck(JSON.parse(inner.stdout).checks)['data-dir']).toMatchObject({ status: 'fail', detail: expect.stringContaining(`${path.join(hidden, 'data')} cannot be reached (EACCES)`) });
}, 120_000);

describe('TLS files, made here with node-forge', () => {
  const ca = makeTestCa();
  const now = new Date();

  test('an expired certificate fails and says when it expired', () => {
    const expired = makeServerCertificate(ca, { notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    const r = checkTls({ ENCLAVE_TLS_CERT: pems.write('expired.crt', expired.certPem), ENCLAVE_TLS_KEY: pems.write('expired.key', expired.keyPem) }, now);
    expect(r).toMatchObject({ status: 'fail', detail: expect.stringMatching(/the certificate in .*expired\.crt expired on \d{4}-/), fix: expect.stringContaining('currently valid') });
  });

  test('a key that is not the certificate’s fails', () => {
    const one = makeServerCertificate(ca);
    const other = makeServerCertificate(ca);
    const r = checkTls({ ENCLAVE_TLS_CERT: pems.write('one.crt', one.certPem), ENCLAVE_TLS_KEY: pems.write('other.key', other.keyPem) }, now);
    expect(r).toMatchObject({ status: 'fail', detail: expect.stringMatching(/the key in .*other\.key does not match the certificate/) });
  });

  test('a certificate close to its end is a warning to renew; half a pair or an unreadable file fails', () => {
    const soon = makeServerCertificate(ca, { notAfter: new Date(Date.now() + 10 * 86_400_000) });
    expect(checkTls({ ENCLAVE_TLS_CERT: pems.write('soon.crt', soon.certPem), ENCLAVE_TLS_KEY: pems.write('soon.key', soon.keyPem) }, now)).toMatchObject({ status: 'warn', fix: expect.stringContaining('Renew') });
    expect(checkTls({ ENCLAVE_TLS_CERT: pems.write('alone.crt', soon.certPem) }, now)).toMatchObject({ status: 'fail', detail: 'only one of ENCLAVE_TLS_CERT and ENCLAVE_TLS_KEY is set' });
    expect(checkTls({ ENCLAVE_TLS_CERT: '/nonexistent/tls.crt', ENCLAVE_TLS_KEY: '/nonexistent/tls.key' }, now)).toMatchObject({ status: 'fail', detail: 'ENCLAVE_TLS_CERT: cannot read /nonexistent/tls.crt (ENOENT)' });
  });
});

describe('GPUs and vLLM', () => {
  test('a driver that does not match its library fails; a host without nvidia-smi is a CPU host (a warning)', async () => {
    const broken = writeNvidiaSmiDouble({ failWith: { message: 'Failed to initialize NVML: Driver/library version mismatch', exitCode: 18 } });
    const empty = fs.mkdtempSync(path.join(root, 'empty-path-'));
    try {
      const failed = await withPath([broken.dir], () => checkGpus());
      expect(failed).toMatchObject({ status: 'fail', detail: expect.stringContaining('nvidia-smi failed: Failed to initialize NVML: Driver/library version mismatch'), fix: expect.stringContaining('driver') });
      const before = process.env.PATH;
      process.env.PATH = empty;
      try {
        expect(await checkGpus()).toMatchObject({ status: 'warn', count: 0, detail: expect.stringContaining('nvidia-smi not found') });
        expect(await checkVllm({ ENCLAVE_VLLM_BIN: 'vllm' }, { hasGpus: true })).toMatchObject({ status: 'warn', detail: 'vLLM not found (ENCLAVE_VLLM_BIN=vllm): this GPU host cannot run vLLM deployments' });
      } finally {
        process.env.PATH = before;
      }
    } finally {
      broken.remove();
    }
  });

  test('a vllm that fails to start is named, with what it said', async () => {
    const r = await checkVllm({ ENCLAVE_VLLM_BIN: path.join(vllmDir, 'vllm') }, { hasGpus: true, timeoutMs: 10_000 });
    expect(r.status).toBe('ok');
    const failing = path.join(vllmDir, 'vllm-broken');
    fs.writeFileSync(failing, '#!/bin/sh\necho "ModuleNotFoundError: No module named torch" >&2\nexit 1\n', { mode: 0o755 });
    expect(await checkVllm({ ENCLAVE_VLLM_BIN: failing }, { hasGpus: true })).toMatchObject({ status: 'warn', detail: `${failing} --version failed: ModuleNotFoundError: No module named torch` });
  });
});

describe('the master key and the configuration', () => {
  test('a key file others can read fails with chmod 600; a key inside the data directory is a warning', async () => {
    const open = keyFile(0o644);
    expect(await checkMasterKey({ dataDir: root, ENCLAVE_MASTER_KEY_FILE: open, ENCLAVE_MASTER_KEY_COMMAND_TIMEOUT_MS: 5_000 })).toMatchObject({ status: 'fail', detail: expect.stringContaining('run chmod 600 on it') });
    const dataDir = fs.mkdtempSync(path.join(root, 'keyed-'));
    fs.writeFileSync(path.join(dataDir, 'master.key'), randomBytes(32).toString('hex'), { mode: 0o600 });
    expect(await checkMasterKey({ dataDir, ENCLAVE_MASTER_KEY_COMMAND_TIMEOUT_MS: 5_000 })).toMatchObject({ status: 'warn', detail: expect.stringContaining(`data directory (${dataDir}/master.key, mode 0600)`), fix: expect.stringContaining('ENCLAVE_MASTER_KEY_FILE') });
  });

  test('a variable that does not parse is the first failure, named', async () => {
    const results = await withPath([nvidiaSmi.dir], () => runDoctor({ PORT: 'eighty', ENCLAVE_DATA_DIR: root }));
    expect(byCheck(results).config).toMatchObject({ status: 'fail', detail: expect.stringContaining('PORT') });
    expect(doctorExitCode(results)).toBe(1);
    expect(formatDoctor(results)).toMatch(/^FAIL  config +Invalid configuration: PORT: /m);
  });
});
