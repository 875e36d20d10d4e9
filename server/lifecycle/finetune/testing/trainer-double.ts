import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// A test double of trainers/lora_sft.py: no GPU, no torch, but the same argv
// shape, the same JSON-lines protocol and real checkpoint directories on disk, so the
// job runner's parsing, crash handling and resume can be tested on this machine.
//
// Knobs (environment, so a runner passes them through untouched):
//   TRAINER_DOUBLE_STEPS             total steps (default 20)
//   TRAINER_DOUBLE_CHECKPOINT_EVERY  save a checkpoint every K steps (default 5)
//   TRAINER_DOUBLE_CRASH_AFTER_STEP  exit 137 right after printing this step, as an OOM kill would
//   TRAINER_DOUBLE_STEP_MS           sleep per step, to give a runner time to cancel (default 0)
//   TRAINER_DOUBLE_RESUME_FROM       same as --resume-from-checkpoint
//   TRAINER_DOUBLE_PERPLEXITY_DELTA_PCT  quantize mode: how much perplexity rises (default 0.5)
//
// Given --scheme (quantize.py's flag) it plays trainers/quantize.py instead: stage steps, an eval
// event with perplexity before/after, and an output checkpoint directory with the source's config.json.

export const TRAINER_DOUBLE_ENTRY = fileURLToPath(new URL('./trainer-double.bin.ts', import.meta.url));

/** argv to spawn the double: node with tsx, then the arguments lora_sft.py would get. */
export function trainerDoubleCommand(args: string[]): { file: string; args: string[] } {
  return { file: process.execPath, args: ['--import', 'tsx', TRAINER_DOUBLE_ENTRY, ...args] };
}

export interface DoubleOptions {
  outputDir: string;
  /** Set when invoked with quantize.py's flags. */
  quantize?: { scheme: string; model?: string; deltaPct: number };
  resumeFrom?: string;
  /** --merge: also write a merged model and report it as output_path, as lora_sft.py does. */
  merge: boolean;
  /** --base-model: a merged model has the base's config.json. */
  baseModel?: string;
  steps: number;
  checkpointEvery: number;
  crashAfterStep?: number;
  stepMs: number;
}

function intKnob(env: NodeJS.ProcessEnv, name: string, fallback?: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

export function parseDoubleOptions(argv: string[], env: NodeJS.ProcessEnv): DoubleOptions {
  let outputDir: string | undefined;
  let resumeFrom = env.TRAINER_DOUBLE_RESUME_FROM || undefined;
  let scheme: string | undefined;
  let model: string | undefined;
  let merge = false;
  let baseModel: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    // lora_sft.py takes many more flags; the double accepts and ignores them.
    if (flag === '--output-dir') outputDir = argv[++i];
    else if (flag === '--resume-from-checkpoint') resumeFrom = argv[++i];
    else if (flag === '--scheme') scheme = argv[++i];
    else if (flag === '--model') model = argv[++i];
    else if (flag === '--merge') merge = true;
    else if (flag === '--base-model') baseModel = argv[++i];
  }
  if (!outputDir) throw new Error('--output-dir is required');
  const steps = intKnob(env, 'TRAINER_DOUBLE_STEPS', 20)!;
  if (steps < 1) throw new Error('TRAINER_DOUBLE_STEPS must be at least 1');
  const checkpointEvery = intKnob(env, 'TRAINER_DOUBLE_CHECKPOINT_EVERY', 5)!;
  if (checkpointEvery < 1) throw new Error('TRAINER_DOUBLE_CHECKPOINT_EVERY must be at least 1');
  const deltaRaw = env.TRAINER_DOUBLE_PERPLEXITY_DELTA_PCT;
  const deltaPct = deltaRaw ? Number(deltaRaw) : 0.5;
  if (!Number.isFinite(deltaPct)) throw new Error(`TRAINER_DOUBLE_PERPLEXITY_DELTA_PCT must be a number, got "${deltaRaw}"`);
  return {
    outputDir,
    quantize: scheme ? { scheme, model, deltaPct } : undefined,
    resumeFrom,
    merge,
    baseModel,
    steps,
    checkpointEvery,
    crashAfterStep: intKnob(env, 'TRAINER_DOUBLE_CRASH_AFTER_STEP'),
    stepMs: intKnob(env, 'TRAINER_DOUBLE_STEP_MS', 0)!,
  };
}

/** The step a checkpoint was saved at, from its trainer_state.json as transformers writes it. */
export function checkpointStep(path: string): number {
  let state: unknown;
  try {
    state = JSON.parse(readFileSync(join(path, 'trainer_state.json'), 'utf8'));
  } catch (err) {
    throw new Error(`cannot resume from ${path}: no readable trainer_state.json (${(err as Error).message})`);
  }
  const step = (state as { global_step?: unknown }).global_step;
  if (!Number.isInteger(step)) throw new Error(`cannot resume from ${path}: trainer_state.json has no global_step`);
  return step as number;
}

// Write-then-rename, so a crash never leaves a half-written checkpoint to resume from.
function writeDir(dir: string, files: Record<string, string>): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(tmp, name), content);
  renameSync(tmp, dir);
}

const lossAt = (step: number, total: number) => 0.5 + 2 * Math.exp((-3 * step) / total);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the double; returns the exit code. `emit` gets one protocol object per call. */
export async function runTrainerDouble(opts: DoubleOptions, emit: (event: object) => void): Promise<number> {
  if (opts.quantize) return runQuantizeDouble(opts, opts.quantize, emit);
  const start = opts.resumeFrom ? checkpointStep(opts.resumeFrom) : 0;
  if (start > opts.steps) throw new Error(`checkpoint step ${start} is past total steps ${opts.steps}`);
  mkdirSync(opts.outputDir, { recursive: true });
  for (let step = start + 1; step <= opts.steps; step++) {
    if (opts.stepMs > 0) await sleep(opts.stepMs);
    const progress = step / opts.steps;
    emit({
      event: 'step',
      step,
      total_steps: opts.steps,
      loss: Number(lossAt(step, opts.steps).toFixed(4)),
      learning_rate: Number((2e-4 * (1 - progress)).toExponential(4)),
      grad_norm: Number((1.5 - progress).toFixed(4)),
      epoch: Number(progress.toFixed(4)),
      tokens_per_second: 4096,
    });
    if (step % opts.checkpointEvery === 0 && step < opts.steps) {
      const path = join(opts.outputDir, `checkpoint-${step}`);
      writeDir(path, { 'trainer_state.json': JSON.stringify({ global_step: step, max_steps: opts.steps }) });
      emit({ event: 'checkpoint', path, step });
    }
    if (opts.crashAfterStep !== undefined && step === opts.crashAfterStep) return 137;
  }
  emit({ event: 'eval', step: opts.steps, eval_loss: Number(lossAt(opts.steps, opts.steps).toFixed(4)) });
  const adapterPath = join(opts.outputDir, 'adapter');
  writeDir(adapterPath, {
    'adapter_config.json': JSON.stringify({ peft_type: 'LORA', double: true }),
    'README.md': 'Written by the trainer double; not a real adapter.\n',
  });
  if (!opts.merge) {
    emit({ event: 'done', adapter_path: adapterPath });
    return 0;
  }
  const mergedPath = join(opts.outputDir, 'merged');
  writeDir(mergedPath, {
    // merge_and_unload keeps the base's architecture: its config.json, unchanged.
    'config.json': opts.baseModel && existsSync(join(opts.baseModel, 'config.json')) ? readFileSync(join(opts.baseModel, 'config.json'), 'utf8') : JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama' }),
    'README.md': 'Written by the trainer double; not real merged weights.\n',
  });
  emit({ event: 'done', adapter_path: adapterPath, output_path: mergedPath });
  return 0;
}

const QUANTIZE_STAGES = ['load', 'perplexity_before', 'quantize', 'perplexity_after', 'save'];

/** quantize.py's run: one step per stage, the eval event, then the output directory (written whole, then renamed). */
async function runQuantizeDouble(opts: DoubleOptions, q: NonNullable<DoubleOptions['quantize']>, emit: (event: object) => void): Promise<number> {
  const before = 8.25;
  const after = before * (1 + q.deltaPct / 100);
  for (const [i, stage] of QUANTIZE_STAGES.entries()) {
    if (opts.stepMs > 0) await sleep(opts.stepMs);
    if (stage === 'save') {
      let config = '{}';
      try {
        config = readFileSync(join(q.model ?? '', 'config.json'), 'utf8');
      } catch {
        // No source config (a bare test): write an empty one.
      }
      writeDir(opts.outputDir, { 'config.json': config, 'README.md': `Written by the trainer double (${q.scheme}); not a real checkpoint.\n` });
    }
    emit({ event: 'step', step: i + 1, total_steps: QUANTIZE_STAGES.length, stage, loss: null });
    if (stage === 'perplexity_after') emit({ event: 'eval', perplexity_before: before, perplexity_after: after, perplexity_delta: (after - before) / before, scheme: q.scheme });
    if (opts.crashAfterStep !== undefined && i + 1 === opts.crashAfterStep) return 137;
  }
  emit({ event: 'done', output_path: opts.outputDir });
  return 0;
}
