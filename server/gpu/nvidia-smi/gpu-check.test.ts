import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, execaSync } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTrainerOutput, type TrainerEvent } from '../../lifecycle/finetune/protocol';
import { readInventory } from '../inventory';
import { nvidiaSmiFixture } from './fixtures';
import { writeNvidiaSmiDouble } from './test-double';
import { parseComputeApps, parseQueryGpu, parseTopology } from '.';

// scripts/gpu-check.sh, the real-GPU check for a lent machine, run here with doubles: what it can
// prove without a GPU (captures, summary, exit code, the trainer protocol) is proved on every run.

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const script = path.join(repo, 'scripts/gpu-check.sh');
const RUNS = path.join(repo, 'scripts/gpu-check-runs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-gpu-check-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Everything the script may call. Its PATH holds these alone (no node, npm, curl, pip, git), so a
// call to anything else fails the run; a lent machine has no Node and reaches no network.
const TOOLS = ['awk', 'cat', 'cp', 'date', 'dirname', 'find', 'grep', 'head', 'mkdir', 'mktemp', 'rm', 'sed', 'sleep', 'tail', 'timeout', 'wc'];
const FILES = ['query-gpu.csv', 'compute-apps.csv', 'topo.txt', 'nvidia-smi.txt', 'nvidia-smi-q.txt', 'lora_sft.jsonl', 'quantize.jsonl', 'gpu-check.log'];
const which = (name: string) => execaSync('sh', ['-c', `command -v ${name}`]).stdout.trim();
// The interpreter itself, not pyenv's shim (a shell script that needs pyenv on PATH).
const python3 = execaSync('python3', ['-c', 'import sys; print(sys.executable)']).stdout.trim();
const has = (module: string) => execaSync(python3, ['-c', `import ${module}`], { reject: false }).exitCode === 0;
// Without a network namespace of its own the run could still reach the network; CI runs as root, as here.
const unshare = execaSync('unshare', ['-n', 'true'], { reject: false }).exitCode === 0 ? which('unshare') : null;

interface CheckRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  out: string;
  /** Each nvidia-smi call's arguments, space-joined, in order. */
  smiCalls: string[];
}

async function runCheck(name: string, options: { nvidiaSmi?: Parameters<typeof writeNvidiaSmiDouble>[0]; python?: string } = {}): Promise<CheckRun> {
  const bin = path.join(tmp, name, 'bin');
  const out = path.join(tmp, name, 'out');
  const calls = path.join(tmp, name, 'nvidia-smi-calls');
  fs.mkdirSync(bin, { recursive: true });
  for (const tool of TOOLS) fs.symlinkSync(which(tool), path.join(bin, tool));
  fs.symlinkSync(python3, path.join(bin, 'python3'));
  if (options.nvidiaSmi) {
    const double = writeNvidiaSmiDouble(options.nvidiaSmi);
    // In front of the double: records the arguments, so the test sees exactly what the script asked.
    fs.writeFileSync(path.join(bin, 'nvidia-smi'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\nexec '${path.join(double.dir, 'nvidia-smi')}' "$@"\n`, { mode: 0o755 });
  }
  const env: Record<string, string> = { PATH: bin, OUT: out, HOME: path.join(tmp, name), GPU_CHECK_TIMEOUT_S: '600' };
  if (options.python) env.GPU_CHECK_PYTHON = options.python;
  const [file, args] = unshare ? [unshare, ['-n', which('bash'), script]] : [which('bash'), [script]];
  const r = await execa(file, args, { env, extendEnv: false, reject: false, cwd: tmp });
  const smiCalls = fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').trim().split('\n') : [];
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, out, smiCalls };
}

const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), 'utf8');
const steps = (events: TrainerEvent[]) => events.filter((e): e is Extract<TrainerEvent, { event: 'step' }> => e.event === 'step');

/** The protocol's events; a line that is not JSON is a log line by design, but no event may be malformed or unknown. */
function protocolEvents(text: string): TrainerEvent[] {
  const events = parseTrainerOutput(text);
  expect(events.filter((e) => e.event === 'log' && e.reason)).toEqual([]);
  return events;
}

/** What lora_sft.py --self-test promises: 6 LoRA steps, loss going down, checkpoint and eval every 3, an adapter. */
function checkFinetuneSelfTest(text: string) {
  const events = protocolEvents(text);
  expect(events[0]).toMatchObject({ event: 'log', line: expect.stringMatching(/^device (cuda|cpu).*torch .*peft /) });
  const s = steps(events);
  expect(s.map((e) => [e.step, e.total_steps])).toEqual([1, 2, 3, 4, 5, 6].map((n) => [n, 6]));
  expect(s.at(-1)!.loss!).toBeLessThan(s[0]!.loss!);
  expect(events.filter((e) => e.event === 'checkpoint').map((e) => [e.step, path.basename(e.path)])).toEqual([[3, 'checkpoint-3'], [6, 'checkpoint-6']]);
  expect(events.filter((e) => e.event === 'eval').map((e) => [e.step, typeof e.eval_loss])).toEqual([[3, 'number'], [6, 'number']]);
  expect(events.at(-1)).toMatchObject({ event: 'done', adapter_path: expect.stringMatching(/\/adapter$/) });
}

/** What quantize.py --self-test promises: per scheme, 5 named stages, perplexity before and after, an output. */
function checkQuantizeSelfTest(text: string) {
  const events = protocolEvents(text);
  const evals = events.filter((e) => e.event === 'eval');
  expect(evals.map((e) => e.scheme)[0]).toBe('fp16');
  for (const e of evals) {
    expect(e.perplexity_before).toBeGreaterThan(1);
    expect(e.perplexity_after).toBeGreaterThan(1);
  }
  // A float16 cast of a float32 model barely moves perplexity; more would mean a broken cast.
  expect(Math.abs(evals[0]!.perplexity_delta as number)).toBeLessThan(0.01);
  expect(steps(events).map((e) => e.stage)).toEqual(evals.flatMap(() => ['load', 'perplexity_before', 'quantize', 'perplexity_after', 'save']));
  expect(events.filter((e) => e.event === 'done')).toHaveLength(evals.length);
  expect(events.at(-1)).toMatchObject({ event: 'done', output_path: expect.stringMatching(/fp16|w8a8-int8|fp8-dynamic$/) });
}

/** A run's folder as the script leaves it: the captures Enclave parses, parsed by Enclave's parsers. */
function checkCaptures(dir: string) {
  const files = fs.readdirSync(dir);
  // What a lent machine sends back: at most 8 plain files with plain names.
  expect(files.length).toBeLessThanOrEqual(8);
  for (const f of files) expect(FILES).toContain(f);
  const summary = read(dir, 'gpu-check.log').trim().split('\n').at(-1)!;
  expect(summary).toMatch(/^gpu-check: .*; lora_sft (ok|failed).*; quantize (ok|failed).*; \d+ files in .*; exit [0-3]$/);
  if (!summary.startsWith('gpu-check: GPU ')) return summary;
  const gpus = parseQueryGpu(read(dir, 'query-gpu.csv'));
  expect(gpus.length).toBeGreaterThan(0);
  for (const gpu of gpus) expect(summary).toContain(`${gpu.name} ${gpu.memoryTotalMiB} MiB`);
  if (files.includes('topo.txt')) expect(parseTopology(read(dir, 'topo.txt')).devices.filter((d) => d.startsWith('GPU')).length).toBeGreaterThanOrEqual(gpus.length);
  if (files.includes('compute-apps.csv')) expect(() => parseComputeApps(read(dir, 'compute-apps.csv'))).not.toThrow();
  // Enclave reads the CUDA version from the plain summary with this pattern (server/gpu/inventory.ts).
  if (files.includes('nvidia-smi.txt')) expect(summary).toContain(`CUDA ${/CUDA Version:\s*([\d.]+)/.exec(read(dir, 'nvidia-smi.txt'))?.[1]}`);
  return summary;
}

describe('scripts/gpu-check.sh with an nvidia-smi double and a python3 without torch', () => {
  const torchHere = has('torch');
  let run: CheckRun;
  beforeAll(async () => {
    run = await runCheck('no-torch', {
      nvidiaSmi: { query: 'query-gpu/h100-80gb-mig-driver590.csv', topo: 'topo/8x-a100-sxm4-40gb-nv12.txt', apps: 'compute-apps/h100-80gb-three-processes.csv' },
    });
  });

  it('prints one summary line: the GPU, driver and CUDA, each self-test failing for want of torch; exit 1', () => {
    expect(run.stderr).toBe('');
    expect(run.stdout.split('\n')).toHaveLength(1);
    expect(run.stdout).toContain('gpu-check: GPU NVIDIA H100 80GB HBM3 81559 MiB; driver 590.48.01, CUDA 13.1; ');
    expect(run.stdout).toMatch(new RegExp(`; 7 files in ${run.out}; exit 1$`));
    expect(run.exitCode).toBe(1);
    if (torchHere) return; // this host's python3 has torch: the failure below cannot happen here
    expect(run.stdout).toContain('lora_sft failed in ');
    expect(run.stdout).toContain('(exit 1: MissingPackageError: missing Python packages torch, transformers, peft: ');
    expect(run.stdout).toContain('quantize failed in ');
  });

  it('asks nvidia-smi exactly what the agent asks (a field list that drifts from the TypeScript fails here)', async () => {
    const agentCalls: string[] = [];
    await readInventory({ run: async (args) => (agentCalls.push(args.join(' ')), { exitCode: 0, stdout: '', stderr: '' }) });
    expect(agentCalls).toHaveLength(4);
    for (const call of agentCalls) expect(run.smiCalls).toContain(call);
  });

  it('saves the captures verbatim, and Enclave parsers read them', () => {
    expect(checkCaptures(run.out)).toBe(run.stdout);
    expect(parseQueryGpu(read(run.out, 'query-gpu.csv'))).toEqual(parseQueryGpu(nvidiaSmiFixture('query-gpu/h100-80gb-mig-driver590.csv')));
    expect(parseQueryGpu(read(run.out, 'query-gpu.csv')).map((g) => [g.name, g.memoryTotalMiB, g.mig?.enabled])).toEqual([['NVIDIA H100 80GB HBM3', 81559, true]]);
    expect(parseTopology(read(run.out, 'topo.txt')).devices).toHaveLength(8);
    expect(parseComputeApps(read(run.out, 'compute-apps.csv')).map((p) => p.pid)).toEqual([21180, 21181, 21198]);
  });

  it('records a failed capture in the log instead of posing it as one (the double refuses -q)', () => {
    expect(fs.existsSync(path.join(run.out, 'nvidia-smi-q.txt'))).toBe(false);
    expect(read(run.out, 'gpu-check.log')).toContain('== nvidia-smi -q > nvidia-smi-q.txt: exit 2\ndouble: unexpected arguments -q\n');
  });

  it.skipIf(torchHere)('keeps each trainer\'s protocol output: one error event naming the missing packages', () => {
    expect(parseTrainerOutput(read(run.out, 'lora_sft.jsonl'))).toEqual([{
      event: 'error',
      message: 'MissingPackageError: missing Python packages torch, transformers, peft: the self-test needs torch, transformers and peft (trl and datasets are optional)',
    }]);
    expect(parseTrainerOutput(read(run.out, 'quantize.jsonl'))).toMatchObject([{ event: 'error', message: expect.stringContaining('missing Python packages torch, transformers') }]);
  });
});

describe('scripts/gpu-check.sh where there is no GPU', () => {
  it('without nvidia-smi: says so, still runs the self-tests, exit 2 + 1; an earlier run\'s capture does not stay', async () => {
    fs.mkdirSync(path.join(tmp, 'no-smi', 'out'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'no-smi', 'out', 'query-gpu.csv'), nvidiaSmiFixture('query-gpu/tesla-p100-pcie-16gb.csv'));
    const run = await runCheck('no-smi');
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^gpu-check: no GPU \(nvidia-smi not found: no NVIDIA driver on this machine\); driver unknown, CUDA unknown; lora_sft .*; 3 files in .*; exit 3$/);
    expect(run.exitCode).toBe(3);
    expect(fs.readdirSync(run.out).sort()).toEqual(['gpu-check.log', 'lora_sft.jsonl', 'quantize.jsonl']);
  });

  it('with a driver that fails: its message is the reason', async () => {
    const run = await runCheck('mismatch', { nvidiaSmi: { failWith: { message: 'Failed to initialize NVML: Driver/library version mismatch', exitCode: 18 } } });
    expect(run.stdout).toMatch(/^gpu-check: no GPU \(Failed to initialize NVML: Driver\/library version mismatch\); /);
    expect(run.exitCode).toBe(3);
    expect(run.smiCalls).toHaveLength(1); // nothing more is asked of a driver that cannot answer
  });
});

describe('scripts/gpu-check.sh needs nothing outside the repository', () => {
  it('names no Node, package manager, git or network client (the runs above had none on PATH)', () => {
    const code = fs.readFileSync(script, 'utf8').split('\n').filter((l) => !l.trim().startsWith('#')).join('\n');
    expect(code).not.toMatch(/\b(node|npx|npm|pnpm|pip3?|git|curl|wget|ssh)\b|https?:/);
    expect(code).toContain('HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1');
  });

  // Where unshare is refused the runs above had the network; this test then says so by skipping.
  it.skipIf(unshare === null)('the runs above had no network: in their namespace even the local Redis is unreachable', async () => {
    const probe = 'import socket; socket.create_connection(("127.0.0.1", 6379), timeout=2)';
    expect((await execa(python3, ['-c', probe], { reject: false })).exitCode).toBe(0);
    const cut = await execa(unshare!, ['-n', python3, '-c', probe], { reject: false });
    expect(cut.exitCode).not.toBe(0);
    expect(cut.stderr).toContain('Network is unreachable');
  });
});

describe('recorded gpu-check runs (scripts/gpu-check-runs/*: one folder per run, as $OUT came back)', () => {
  const runs = fs.readdirSync(RUNS, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  it('there is at least one', () => expect(runs.length).toBeGreaterThan(0));
  it.each(runs)('%s: captures parse, self-test outputs keep the protocol', (name) => {
    const dir = path.join(RUNS, name);
    const summary = checkCaptures(dir);
    if (summary.includes('lora_sft ok')) checkFinetuneSelfTest(read(dir, 'lora_sft.jsonl'));
    if (summary.includes('quantize ok')) checkQuantizeSelfTest(read(dir, 'quantize.jsonl'));
  });
});

describe('the trl-free loop', () => {
  // Two recorded runs on the same CPU, torch, transformers and peft, one with trl 1.13 (SFTTrainer) and one
  // without (transformers' Trainer on rows rendered by lora_sft.py): the same data, seed and LoRA
  // should learn the same, so a GPU host without trl trains as a full install would.
  const losses = (run: string) => protocolEvents(read(path.join(RUNS, run), 'lora_sft.jsonl'))
    .flatMap((e) => (e.event === 'step' ? [e.loss!] : e.event === 'eval' ? [e.eval_loss!] : []));
  it('gives the losses trl SFTTrainer gives, to float32 rounding', () => {
    const [plain, trl] = [losses('cpu-no-gpu-torch2.13'), losses('cpu-no-gpu-torch2.13-trl1.13')];
    expect(plain).toHaveLength(8);
    expect(trl).toHaveLength(8);
    plain.forEach((loss, i) => expect(Math.abs(loss - trl[i]!) / trl[i]!).toBeLessThan(1e-6));
  });
});

// Set ENCLAVE_TORCH_PYTHON to a python with torch, transformers and peft (and no trl or datasets,
// like a lent GPU host) to run both self-tests for real through the script: about 15 s on CPU.
describe.runIf(process.env.ENCLAVE_TORCH_PYTHON)('scripts/gpu-check.sh with torch', () => {
  it('both self-tests pass and speak the protocol', async () => {
    const run = await runCheck('torch', { python: process.env.ENCLAVE_TORCH_PYTHON!, nvidiaSmi: { query: 'query-gpu/tesla-p100-pcie-16gb.csv' } });
    expect(run.stdout).toMatch(/; lora_sft ok \(6 steps, [\d.]+ s\); quantize ok \(\d+ steps, [\d.]+ s\); /);
    checkFinetuneSelfTest(read(run.out, 'lora_sft.jsonl'));
    checkQuantizeSelfTest(read(run.out, 'quantize.jsonl'));
  }, 300_000);
});
