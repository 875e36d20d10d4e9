import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DetachedCommand } from '../../process/detached-process';
import { commandWords } from '../../core/command-words';
import type { FinetuneSpec } from './spec';

export const TRAINERS_DIR = fileURLToPath(new URL('../../../trainers/', import.meta.url));

export interface TrainerConfig {
  /** ENCLAVE_TRAINER_PYTHON */
  python: string;
  /** ENCLAVE_TRAINER_COMMAND: replaces `python script.py` (tests run the trainer double with it). */
  override?: string;
}

export function trainerCommand(script: 'lora_sft.py' | 'quantize.py', args: string[], config: TrainerConfig): Pick<DetachedCommand, 'file' | 'args'> {
  const prefix = config.override ? commandWords(config.override, 'ENCLAVE_TRAINER_COMMAND') : [config.python, path.join(TRAINERS_DIR, script)];
  return { file: prefix[0]!, args: [...prefix.slice(1), ...args] };
}

/** lora_sft.py's flags for a spec; paths are on the host that runs it. */
export function loraSftArgs(spec: FinetuneSpec, paths: { baseModel: string; dataset: string; evalDataset?: string; outputDir: string; resumeFrom?: string }): string[] {
  const args = [
    '--base-model', paths.baseModel,
    '--dataset', paths.dataset,
    ...(paths.evalDataset ? ['--eval-dataset', paths.evalDataset] : []),
    '--output-dir', paths.outputDir,
    '--lora-r', String(spec.lora_r),
    '--lora-alpha', String(spec.lora_alpha),
    '--lora-dropout', String(spec.lora_dropout),
    '--target-modules', spec.target_modules.join(','),
    '--learning-rate', String(spec.learning_rate),
    '--epochs', String(spec.epochs),
    '--per-device-batch-size', String(spec.per_device_batch_size),
    '--gradient-accumulation', String(spec.gradient_accumulation),
    '--max-seq-length', String(spec.max_seq_length),
    '--warmup-ratio', String(spec.warmup_ratio),
    '--scheduler', spec.scheduler,
    '--seed', String(spec.seed),
    '--save-steps', String(spec.save_steps),
    // The memory estimate assumes a bf16 base (memory.ts).
    '--bf16',
  ];
  if (paths.resumeFrom) args.push('--resume-from-checkpoint', paths.resumeFrom);
  if (spec.merge) args.push('--merge');
  return args;
}

/** quantize.py's flags for an HF quantization. */
export function quantizeArgs(paths: { model: string; outputDir: string; scheme: string; evalText: string; calibrationText: string }): string[] {
  // Calibrate on the training side and measure on the held-out side: never score on what calibrated it.
  return ['--model', paths.model, '--output-dir', paths.outputDir, '--scheme', paths.scheme, '--eval-text', paths.evalText, '--calibration-text', paths.calibrationText];
}

/** The trainer script and its flags for a job, with its input and output paths on the host that runs it. */
export function trainerInvocation(
  job: { kind: 'finetune' | 'quantize'; spec: Record<string, unknown> },
  paths: { baseModel: string; trainData: string; evalData?: string; evalText: string; calibrationText: string; outputDir: string; resumeFrom?: string },
): { script: 'lora_sft.py' | 'quantize.py'; args: string[] } {
  if (job.kind === 'finetune') {
    return { script: 'lora_sft.py', args: loraSftArgs(job.spec as unknown as FinetuneSpec, { baseModel: paths.baseModel, dataset: paths.trainData, evalDataset: paths.evalData, outputDir: paths.outputDir, resumeFrom: paths.resumeFrom }) };
  }
  const scheme = String((job.spec as { target?: unknown }).target);
  return { script: 'quantize.py', args: quantizeArgs({ model: paths.baseModel, outputDir: paths.outputDir, scheme, evalText: paths.evalText, calibrationText: paths.calibrationText }) };
}
