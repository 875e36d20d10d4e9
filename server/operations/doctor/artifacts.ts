import type { Env } from '../../core/env';
import { checkArtifactStore, closeArtifactBackends } from '../../artifacts';
import { fail, ok, reason, type CheckResult } from './types';

/** The artifact store `start` would use, probed by the same check (a bucket that exists and takes writes, a directory that does). */
export async function checkArtifacts(env: Env): Promise<CheckResult> {
  // Unconfigured, the store is the data directory, which the data-dir check already probed.
  if (env.ENCLAVE_ARTIFACTS === 'dir' && env.ENCLAVE_ARTIFACTS_DIR === undefined) {
    return ok('artifacts', 'the data directory (set ENCLAVE_ARTIFACTS_DIR to a shared mount, or ENCLAVE_ARTIFACTS=s3, when several hosts run roles)');
  }
  try {
    return ok('artifacts', await checkArtifactStore(env));
  } catch (e) {
    return fail('artifacts', reason(e), env.ENCLAVE_ARTIFACTS === 's3' ? 'Check ENCLAVE_S3_ENDPOINT, ENCLAVE_S3_BUCKET and the credentials (the bucket must exist)' : 'Make ENCLAVE_ARTIFACTS_DIR (or the data directory) writable by the user running Enclave');
  } finally {
    await closeArtifactBackends().catch(() => {});
  }
}
