import type { Db } from '../server/db/client';

/** The `loadtest` queue's consumer: runs one load test at a time. */
export async function startLoadTestWorker(_db: Db): Promise<{ close(): Promise<void> }> {
  return { close: async () => {} };
}
