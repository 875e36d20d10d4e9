import fs from 'node:fs';
import type { Db } from '../../db/client';
import { MAX_RESUMES } from '../../lifecycle/jobs/exit';
import { storeFor } from '../../artifacts';
import { ingestTrainerReport, listTrainerAssignments, openTrainerInput } from '../../lifecycle/jobs/remote';
import type { TrainerJobClient } from './remote-trainers';

/**
 * The trainer runner's client for an agent that shares the control plane's database (`enclave agent`
 * without --join, or the local agent of `enclave start`): the same calls the control API makes, in
 * process, so every agent runs the jobs placed on its node the same way.
 */
export function dbTrainerClient(db: Db, deps: { masterKey: Buffer; dataDir: string }, nodeName: string): TrainerJobClient {
  return {
    assignments: () => listTrainerAssignments(db, nodeName),
    async download(jobId, input, outPath) {
      const { file, rows } = await openTrainerInput(db, deps, nodeName, jobId, input);
      try {
        fs.renameSync(file, outPath);
      } catch {
        // Another file system: copy, then the finally removes the temporary file.
        fs.copyFileSync(file, outPath);
        fs.chmodSync(outPath, 0o600);
      } finally {
        fs.rmSync(file, { force: true });
      }
      return rows;
    },
    // A base this host lacks, straight from the store (this agent holds the master key).
    openBase: async (_jobId, key) => storeFor(deps.dataDir, db, deps.masterKey).readable(key),
    // This host ran the trainer: its outputs are sealed into the artifact store from here.
    report: (jobId, report) => ingestTrainerReport(db, nodeName, jobId, report, { maxResumes: MAX_RESUMES, artifacts: storeFor(deps.dataDir, db, deps.masterKey) }),
  };
}
