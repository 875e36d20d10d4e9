import path from 'node:path';
import { env } from '../server/core/env';
import { artifactBackend, checkArtifactStore, closeArtifactBackends, copyArtifacts, dirBackend } from '../server/artifacts';
import { options } from './args';

/**
 * `enclave artifacts copy-from-data-dir`: the datasets an earlier version (or the directory store) kept under
 * <data dir>/datasets, copied as they are into the configured store (S3, or ENCLAVE_ARTIFACTS_DIR), so an
 * install can switch stores without losing them. Safe to run again; prints what it did as JSON.
 */
export async function artifactsCopyFromDataDirCommand(args: string[]): Promise<number> {
  options(args, []);
  const e = env();
  const target = artifactBackend(e);
  if (target.kind === 'dir' && target.where === path.resolve(e.dataDir)) {
    process.stdout.write('The artifact store is the data directory itself: nothing to copy\n');
    return 0;
  }
  try {
    await checkArtifactStore(e);
    const result = await copyArtifacts(dirBackend(e.dataDir), target, 'datasets/', (key) => process.stderr.write(`copying ${key}\n`));
    process.stdout.write(`${JSON.stringify({ to: target.where, ...result })}\n`);
    return 0;
  } finally {
    await closeArtifactBackends();
  }
}
