import type { Job, Worker } from 'bullmq';
import { until } from './until';

/**
 * Counts the jobs a BullMQ worker completes from now on (those `match` accepts), so a test waits for the
 * work it expects by the job, not by the clock: "the restarted worker has reconciled it twice".
 */
export function countCompletedJobs<T>(worker: Worker<T>, match: (data: T) => boolean = () => true) {
  let count = 0;
  const onCompleted = (job: Job<T>) => {
    if (match(job.data)) count++;
  };
  worker.on('completed', onCompleted);
  return {
    async atLeast(n: number, what: string, timeoutMs = 30_000): Promise<void> {
      try {
        await until(what, async () => count >= n, timeoutMs);
      } finally {
        worker.off('completed', onCompleted);
      }
    },
  };
}
