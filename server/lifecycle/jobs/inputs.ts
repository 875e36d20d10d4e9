import fs from 'node:fs';
import type { Db } from '../../db/client';
import { DomainError } from '../../core/errors';
import { writeDatasetPart } from '../datasets/store';
import type { JobRow } from './access';
import { BUNDLED_QUALITY_TEXT } from './quality-text';
import type { JobWorkspace } from './workspace';

/**
 * What a trainer reads, by name, wherever it runs: fine-tunes the dataset's train and held-out rows as
 * messages; quantizations measure on held-out text and calibrate on the training text (never scoring on
 * what calibrated it), or on the bundled text without a dataset.
 */
export const TRAINER_INPUTS = ['train', 'held-out', 'eval-text', 'calibration-text'] as const;
export type TrainerInput = (typeof TRAINER_INPUTS)[number];

type Job = Pick<JobRow, 'kind' | 'datasetId' | 'spec'>;

/** Writes one input of a job to `outPath` (mode 0600) on this host, which holds the sealed datasets; its row count. */
export async function writeTrainerInput(
  db: Db,
  deps: { masterKey: Buffer; dataDir: string; writeDataset?: typeof writeDatasetPart },
  job: Job,
  input: TrainerInput,
  outPath: string,
): Promise<number> {
  const write = deps.writeDataset ?? writeDatasetPart;
  const part = (from: string, which: 'train' | 'heldOut', format: 'jsonl-messages' | 'text') => write(db, deps.masterKey, from, which, outPath, format, { dataDir: deps.dataDir }).then((r) => r.rows);
  if (job.kind === 'finetune') {
    if (input !== 'train' && input !== 'held-out') throw new DomainError('BAD_REQUEST', 'A fine-tune reads train and held-out');
    return part(job.datasetId!, input === 'train' ? 'train' : 'heldOut', 'jsonl-messages');
  }
  if (input !== 'eval-text' && input !== 'calibration-text') throw new DomainError('BAD_REQUEST', 'A quantization reads eval-text and calibration-text');
  const evalDatasetId = (job.spec as { evalDatasetId?: string }).evalDatasetId;
  if (evalDatasetId) return part(evalDatasetId, input === 'eval-text' ? 'heldOut' : 'train', 'text');
  fs.writeFileSync(outPath, BUNDLED_QUALITY_TEXT, { mode: 0o600 });
  return BUNDLED_QUALITY_TEXT.split('\n').filter(Boolean).length;
}

/**
 * Puts a job's inputs in its workspace through `fetch` (written here by the worker, downloaded by an
 * agent) and returns the paths the trainer is given: no held-out file when the split has none.
 */
export async function prepareTrainerInputs(job: Pick<JobRow, 'kind'>, ws: JobWorkspace, fetch: (input: TrainerInput, outPath: string) => Promise<number>) {
  if (job.kind === 'finetune') {
    if ((await fetch('train', ws.trainData)) === 0) throw new Error('the dataset has no training rows');
    const heldOut = await fetch('held-out', ws.evalData);
    return { trainData: ws.trainData, evalData: heldOut ? ws.evalData : undefined, evalText: ws.evalText, calibrationText: ws.calibrationText };
  }
  await fetch('eval-text', ws.evalText);
  await fetch('calibration-text', ws.calibrationText);
  // quantize.py refuses an existing output directory: a restart starts clean.
  fs.rmSync(ws.output, { recursive: true, force: true });
  return { trainData: ws.trainData, evalText: ws.evalText, calibrationText: ws.calibrationText };
}
