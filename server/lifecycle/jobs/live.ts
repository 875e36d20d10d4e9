import { redis, redisKey } from '../../redis';

/** The channel a job's updates are published on (`enclave:job:<id>` with the default prefix). */
export const jobChannel = (jobId: string) => redisKey('job', jobId);

/**
 * Tells followers (the UI's live stream) that a job's row changed, with the figures that changed.
 * Best effort: the row is the truth and polling reads it, so a Redis hiccup must not fail the job.
 */
export async function publishJobUpdate(jobId: string, update: Record<string, unknown>): Promise<void> {
  await redis()
    .publish(jobChannel(jobId), JSON.stringify({ jobId, ...update }))
    .catch(() => undefined);
}
