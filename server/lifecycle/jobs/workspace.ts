import fs from 'node:fs';
import path from 'node:path';

/**
 * A job's files on the host that runs it: the plaintext dataset parts the trainer reads (deleted when
 * the job ends: datasets are sealed at rest everywhere else), its log, and its output directory.
 */
export function jobWorkspace(dataDir: string, jobId: string) {
  const dir = path.join(dataDir, 'jobs', jobId);
  return {
    dir,
    trainData: path.join(dir, 'train.jsonl'),
    evalData: path.join(dir, 'eval.jsonl'),
    evalText: path.join(dir, 'eval.txt'),
    calibrationText: path.join(dir, 'calibration.txt'),
    log: path.join(dir, 'trainer.log'),
    output: path.join(dir, 'output'),
  };
}
export type JobWorkspace = ReturnType<typeof jobWorkspace>;

export function prepareWorkspace(ws: JobWorkspace): void {
  fs.mkdirSync(ws.dir, { recursive: true, mode: 0o700 });
}

/** Removes the plaintext dataset copies; the log and outputs stay (the registered version points into output). */
export function removeDatasetCopies(ws: JobWorkspace): void {
  for (const file of [ws.trainData, ws.evalData, ws.evalText, ws.calibrationText]) fs.rmSync(file, { force: true });
}

export function fileSize(file: string): number {
  return fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
}
