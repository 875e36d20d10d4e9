import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { NVIDIA_SMI_FIXTURES } from '../server/gpu/nvidia-smi/fixtures';

const bin = path.resolve(__dirname, 'enclave.mjs');
const configs = path.resolve(__dirname, '../server/gpu/estimator/configs');
const mixtral = path.join(configs, 'mixtral-8x7b-v0.1.json');
const llama3 = path.join(configs, 'meta-llama-3-8b.json');
// No database: a dry run works on a bare machine.
const enclave = (args: string[]) => execa(process.execPath, [bin, ...args], { reject: false, env: { DATABASE_URL: '', LOG_LEVEL: 'warn' } });

let dir: string;

/** nvidia-smi --query-gpu=index,name,memory.total,memory.used --format=csv, as an 8-GPU host prints it. */
function queryCsv(name: string, totalMiB: number, usedMiB: number[]) {
  return ['index, name, memory.total [MiB], memory.used [MiB]', ...usedMiB.map((used, i) => `${i}, ${name}, ${totalMiB} MiB, ${used} MiB`)].join('\n') + '\n';
}

function node(name: string, files: Record<string, string>) {
  fs.mkdirSync(path.join(dir, name), { recursive: true });
  for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name, file), text);
}
const capture = (relative: string) => fs.readFileSync(path.join(NVIDIA_SMI_FIXTURES, relative), 'utf8');

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-plan-'));
  // A100 p4d topology (NV12, NUMA 0: GPUs 0-3, 1: 4-7) with GPU 1 busy; an RTX 4090 PCIe box; the real P100 capture.
  node('fleet/a100', { 'query.csv': queryCsv('NVIDIA A100-SXM4-40GB', 40960, [0, 30000, 0, 0, 0, 0, 0, 0]), 'topo.txt': capture('topo/8x-a100-sxm4-40gb-nv12.txt'), 'labels.json': '{"zone":"a"}' });
  node('fleet/rtx4090', { 'query.csv': queryCsv('NVIDIA GeForce RTX 4090', 24564, Array(8).fill(1)), 'topo.txt': capture('topo/8x-rtx4090-pcie-with-nics.txt') });
  node('fleet/p100', { 'query.csv': capture('query-gpu/tesla-p100-pcie-16gb.csv') });
  node('small/rtx4090', { 'query.csv': queryCsv('NVIDIA GeForce RTX 4090', 24564, Array(8).fill(1)), 'topo.txt': capture('topo/8x-rtx4090-pcie-with-nics.txt') });
  node('bad/broken', { 'query.csv': queryCsv('NVIDIA A100-SXM4-40GB', 40960, [0]), 'labels.json': '["zone"]' });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('Mixtral 8x7B needs four A100s: the smallest TP that fits, on NVLinked GPUs of one NUMA node, avoiding the busy one', async () => {
  const r = await enclave(['plan', '--nodes', path.join(dir, 'fleet'), '--model', mixtral, '--max-model-len', '8192']);
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(Object.keys(out)).toEqual(['feasible', 'tp', 'pp', 'placements', 'perGpuBytes', 'perGpu', 'maxConcurrentSequences', 'reasons']);
  expect(out).toMatchObject({ feasible: true, tp: 4, pp: 1, placements: [{ node: 'a100', gpus: [4, 5, 6, 7] }], reasons: [] });
  expect(Object.keys(out.perGpu)).toEqual(['weightsBytes', 'kvCacheBytes', 'activationBytes', 'overheadBytes']);
  const { weightsBytes, kvCacheBytes, activationBytes, overheadBytes } = out.perGpu;
  expect(out.perGpuBytes).toBe(weightsBytes + kvCacheBytes + activationBytes + overheadBytes);
  expect(out.perGpuBytes).toBeLessThan(0.9 * 40960 * 1024 ** 2);
  expect(out.maxConcurrentSequences).toBeGreaterThan(1);
});

test('nothing fits: one reason per node in plain words, and the estimate still printed', async () => {
  const r = await enclave(['plan', '--nodes', path.join(dir, 'small'), '--model', mixtral, '--tp', '2', '--max-model-len', '4096']);
  expect(r.exitCode).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out).toMatchObject({ feasible: false, tp: 2, pp: 1, placements: [] });
  expect(out.reasons).toEqual([expect.stringMatching(/^rtx4090: needs \d+\.\d GiB per GPU on 2 GPUs; largest free: 21\.6 GiB \(GPUs 0, 1\)$/)]);
  expect(out.perGpu.weightsBytes).toBeGreaterThan(40 * 1024 ** 3);
  expect(out.maxConcurrentSequences).toBe(0);

  const badTp = JSON.parse((await enclave(['plan', '--nodes', path.join(dir, 'small'), '--model', llama3, '--tp', '3'])).stdout);
  expect(badTp.reasons).toEqual(['rtx4090: Total number of attention heads (32) must be divisible by tensor parallel size (3).']);
});

test('bad input is a clear error, never a stack trace', async () => {
  const cases: [string[], number, RegExp][] = [
    [['plan', '--model', llama3], 2, /--nodes is required/],
    [['plan', '--nodes', path.join(dir, 'nope'), '--model', llama3], 1, /nodes directory .*nope not found/],
    [['plan', '--nodes', path.join(dir, 'small'), '--model', path.join(dir, 'small/rtx4090/query.csv')], 2, /is not valid JSON/],
    [['plan', '--nodes', path.join(dir, 'small'), '--model', llama3, '--policy', 'random'], 2, /--policy must be binpack or spread, got random/],
    [['plan', '--nodes', path.join(dir, 'bad'), '--model', llama3], 1, /broken\/labels.json must be an object of string values/],
  ];
  for (const [args, code, message] of cases) {
    const r = await enclave(args);
    expect(r.exitCode, args.join(' ')).toBe(code);
    expect(r.stderr, args.join(' ')).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }
});
