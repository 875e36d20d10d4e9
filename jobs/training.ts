import type { Db } from '../server/db/client';

/** The `training` queue's consumer: runs fine-tune and quantization jobs. */
export async function startTrainingWorker(_db: Db, _opts: { masterKey?: Buffer }): Promise<{ close(): Promise<void> }> {
  return { close: async () => {} };
}
