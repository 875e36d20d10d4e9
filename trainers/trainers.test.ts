import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTrainerOutput, type TrainerEvent } from '../server/lifecycle/finetune/protocol';
import { trainerDoubleCommand } from '../server/lifecycle/finetune/testing/trainer-double';

const here = fileURLToPath(new URL('.', import.meta.url));
const scripts = ['lora_sft.py', 'quantize.py'].map((name) => join(here, name));
const tmp = mkdtempSync(join(tmpdir(), 'enclave-trainers-'));
// Keep py_compile's .pyc files out of the repository.
const pyEnv = { PYTHONPYCACHEPREFIX: join(tmp, 'pycache'), PYTHONDONTWRITEBYTECODE: '1' };
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const steps = (events: TrainerEvent[]) => events.flatMap((e) => (e.event === 'step' ? [e.step] : []));

describe('trainer scripts', () => {
  it.each(scripts)('%s compiles', async (script) => {
    const r = await execa('python3', ['-m', 'py_compile', script], { env: pyEnv, reject: false });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
  });

  it('py_compile does fail on a syntax error (so the check above can fail)', async () => {
    const broken = join(tmp, 'broken.py');
    writeFileSync(broken, 'def main(:\n    pass\n');
    const r = await execa('python3', ['-m', 'py_compile', broken], { env: pyEnv, reject: false });
    expect(r.exitCode).not.toBe(0);
  });

  it.each(scripts)('%s --help works without torch (imports live inside main)', async (script) => {
    const r = await execa('python3', [script, '--help'], { env: pyEnv, reject: false });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('--self-test');
  });

  it('lora_sft.py exposes every spec field of a fine-tune job', async () => {
    const { stdout } = await execa('python3', [scripts[0], '--help'], { env: pyEnv });
    for (const flag of ['--base-model', '--dataset', '--lora-r', '--lora-alpha', '--lora-dropout', '--target-modules',
      '--learning-rate', '--epochs', '--per-device-batch-size', '--gradient-accumulation', '--max-seq-length',
      '--warmup-ratio', '--scheduler', '--seed', '--output-dir', '--resume-from-checkpoint']) {
      expect(stdout).toContain(flag);
    }
  });

  it('a usage error is an error event naming what is missing', async () => {
    const r = await execa('python3', [scripts[1], '--model', 'm'], { env: pyEnv, reject: false });
    expect(r.exitCode).toBe(2);
    expect(parseTrainerOutput(r.stdout)).toEqual([
      { event: 'error', message: 'bad arguments: missing --output-dir, --eval-text' },
    ]);
  });

  it('--warmup-ratio outside [0, 1) is a usage error (transformers 5 would read 1 or more as a step count)', async () => {
    const r = await execa('python3', [scripts[0], '--self-test', '--warmup-ratio', '1.5'], { env: pyEnv, reject: false });
    expect(r.exitCode).toBe(2);
    expect(parseTrainerOutput(r.stdout)).toEqual([{ event: 'error', message: 'bad arguments: --warmup-ratio must be in [0, 1)' }]);
  });

  // A lent GPU host has torch, transformers and peft but neither trl nor datasets; a host with less
  // must say which packages are missing in one error event, not die on the first ImportError.
  const pythonHas = (module: string) => execa('python3', ['-c', `import ${module}`], { reject: false }).then((r) => r.exitCode === 0);

  it('a self-test where torch is missing is one error event naming the packages it needs, and no traceback', async (ctx) => {
    if (await pythonHas('torch')) ctx.skip();
    for (const [script, needs] of [[scripts[0]!, 'torch, transformers, peft'], [scripts[1]!, 'torch, transformers']] as const) {
      const r = await execa('python3', [script, '--self-test'], { env: pyEnv, reject: false });
      expect(r.exitCode).toBe(1);
      expect(parseTrainerOutput(r.stdout)).toEqual([{ event: 'error', message: expect.stringMatching(new RegExp(`^MissingPackageError: missing Python packages ${needs}: the self-test needs`)) }]);
      expect(r.stderr).toBe('');
    }
  });

  it('a real fine-tune names trl and datasets among what it needs; only the self-test runs without them', async (ctx) => {
    if (await pythonHas('trl')) ctx.skip();
    const r = await execa('python3', [scripts[0], '--base-model', 'm', '--dataset', 'd.jsonl', '--output-dir', join(tmp, 'ft')], { env: pyEnv, reject: false });
    expect(r.exitCode).toBe(1);
    expect(parseTrainerOutput(r.stdout)).toEqual([{
      event: 'error',
      message: expect.stringMatching(/^MissingPackageError: missing Python packages (.+, )?trl, datasets: a fine-tune needs torch, transformers, peft, trl and datasets on the GPU host \(only --self-test runs without trl and datasets\)$/),
    }]);
  });

  it('lora_sft.py normalises messages, Alpaca and ShareGPT rows, and names a bad line', async () => {
    const good = join(tmp, 'good.jsonl');
    writeFileSync(good, [
      '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}',
      '{"instruction":"add","input":"1+1","output":"2"}',
      '',
      '{"conversations":[{"from":"human","value":"q"},{"from":"gpt","value":"a"}]}',
    ].join('\n'));
    const bad = join(tmp, 'bad.jsonl');
    writeFileSync(bad, '{"instruction":"x","output":"y"}\n{"messages":[{"role":"user","content":"only a question"}]}\n');
    const code = `import json, sys; from lora_sft import load_jsonl
print(json.dumps(load_jsonl(sys.argv[1])))
try:
    load_jsonl(sys.argv[2])
except ValueError as e:
    print(e)`;
    const { stdout } = await execa('python3', ['-c', code, good, bad], { cwd: here, env: pyEnv });
    const [rows, error] = stdout.split('\n');
    expect(JSON.parse(rows!)).toEqual([
      { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] },
      { messages: [{ role: 'user', content: 'add\n\n1+1' }, { role: 'assistant', content: '2' }] },
      { messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] },
    ]);
    expect(error).toBe(`${bad} line 2: no assistant turn to learn from`);
  });
});

// Set ENCLAVE_TORCH_PYTHON to a python with torch, transformers and peft to run this (about 15 s on CPU).
describe.runIf(process.env.ENCLAVE_TORCH_PYTHON)('lora_sft.py with torch', () => {
  const python = process.env.ENCLAVE_TORCH_PYTHON!;
  const env = { ...pyEnv, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', HF_HUB_DISABLE_PROGRESS_BARS: '1' };

  it('a run resumed from checkpoint-3 continues at step 4 with the same losses, and replaces the adapter a finished attempt left', async () => {
    const out = join(tmp, 'resume');
    const first = await execa(python, [scripts[0]!, '--self-test', '--output-dir', out], { env, reject: false });
    expect(first.exitCode).toBe(0);
    const resumed = await execa(python, [scripts[0]!, '--self-test', '--output-dir', out, '--resume-from-checkpoint', join(out, 'checkpoint-3')], { env, reject: false });
    expect(resumed.stderr).not.toContain('Traceback');
    expect(resumed.exitCode).toBe(0);
    const loss = (events: TrainerEvent[]) => events.flatMap((e) => (e.event === 'step' ? [[e.step, e.loss]] : []));
    const [a, b] = [parseTrainerOutput(first.stdout), parseTrainerOutput(resumed.stdout)];
    expect(loss(b)).toEqual(loss(a).slice(3));
    expect(b.at(-1)).toEqual({ event: 'done', adapter_path: join(out, 'adapter') });
  }, 120_000);
});

describe('trainer double', () => {
  const run = (args: string[], env: Record<string, string>) => {
    const { file, args: argv } = trainerDoubleCommand(args);
    return execa(file, argv, { env, reject: false });
  };

  it('speaks the protocol: falling loss, checkpoints every K steps, done with an adapter', async () => {
    const out = join(tmp, 'full');
    const r = await run(['--output-dir', out, '--lora-r', '8'], { TRAINER_DOUBLE_STEPS: '10', TRAINER_DOUBLE_CHECKPOINT_EVERY: '4' });
    expect(r.exitCode).toBe(0);
    const events = parseTrainerOutput(r.stdout);
    expect(events.filter((e) => e.event === 'log')).toEqual([]);
    expect(steps(events)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const losses = events.flatMap((e) => (e.event === 'step' ? [e.loss!] : []));
    expect(losses.every((loss, i) => i === 0 || loss < losses[i - 1]!)).toBe(true);
    expect(events.filter((e) => e.event === 'checkpoint').map((e) => e.path)).toEqual(
      [join(out, 'checkpoint-4'), join(out, 'checkpoint-8')],
    );
    expect(events.at(-1)).toEqual({ event: 'done', adapter_path: join(out, 'adapter') });
  });

  it('crashes with 137 after step X; a resume from the last checkpoint continues the numbering', async () => {
    const out = join(tmp, 'crash');
    const env = { TRAINER_DOUBLE_STEPS: '12', TRAINER_DOUBLE_CHECKPOINT_EVERY: '3' };
    const crashed = await run(['--output-dir', out], { ...env, TRAINER_DOUBLE_CRASH_AFTER_STEP: '7' });
    expect(crashed.exitCode).toBe(137);
    const first = parseTrainerOutput(crashed.stdout);
    expect(steps(first)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(first.some((e) => e.event === 'done')).toBe(false);
    const last = first.filter((e) => e.event === 'checkpoint').at(-1);
    expect(last).toMatchObject({ path: join(out, 'checkpoint-6') });

    const resumed = await run(['--output-dir', out, '--resume-from-checkpoint', (last as { path: string }).path], env);
    expect(resumed.exitCode).toBe(0);
    const second = parseTrainerOutput(resumed.stdout);
    expect(steps(second)).toEqual([7, 8, 9, 10, 11, 12]);
    expect(second.at(-1)).toMatchObject({ event: 'done' });
  });

  it('refuses a checkpoint that is not one, with an error event', async () => {
    const r = await run(['--output-dir', join(tmp, 'bad')], { TRAINER_DOUBLE_RESUME_FROM: join(tmp, 'nowhere') });
    expect(r.exitCode).toBe(1);
    const events = parseTrainerOutput(r.stdout);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event: 'error', message: expect.stringContaining('cannot resume from') });
  });
});
