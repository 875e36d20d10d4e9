import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, expect, it } from 'vitest';
import { TEST_MODEL_PATH } from '../../engines/llamacpp/test-support';

// The command as a user runs it: the real bin/enclave.mjs in its own process.
const enclave = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/enclave.mjs');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-quantize-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const run = (...args: string[]) => execa(process.execPath, [enclave, 'quantize', ...args], { reject: false });

it('prints the figures as one JSON object and writes the file', async () => {
  const out = path.join(dir, 'q.gguf');
  const r = await run('--in', TEST_MODEL_PATH, '--out', out, '--type', 'q8_0');
  expect(r.exitCode).toBe(0);
  const json = JSON.parse(r.stdout);
  expect(json).toMatchObject({ inputBytes: 1185376, outputBytes: fs.statSync(out).size, tensors: 48, type: 'q8_0' });
  expect(json.converted + json.kept).toBe(48);
  expect(json.seconds).toBeGreaterThan(0);
});

it('refuses an unknown --type with usage, and bad input with the reason', async () => {
  const badType = await run('--in', TEST_MODEL_PATH, '--out', path.join(dir, 'x.gguf'), '--type', 'int4');
  expect([badType.exitCode, badType.stderr.split('\n')[0]]).toEqual([2, 'enclave: --type must be f16 or q8_0, got int4']);
  const missing = await run('--in', path.join(dir, 'nope.gguf'), '--out', path.join(dir, 'x.gguf'), '--type', 'f16');
  expect([missing.exitCode, missing.stderr.trim()]).toEqual([1, `enclave: ${path.join(dir, 'nope.gguf')}: no such file`]);
  expect(fs.existsSync(path.join(dir, 'x.gguf'))).toBe(false);
});
