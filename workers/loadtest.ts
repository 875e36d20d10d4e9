import type { Db } from '../server/db/client';
import { executeLoadTest } from '../server/evaluation/loadtest/execute';
import { sealStoredPlaintextPrompts } from '../server/evaluation/loadtest/sealed-prompts';
import { log } from '../server/core/log';
import { defineConsumer } from '../server/core/queues';

/** The `loadtest` queue's consumer: runs one load test at a time (the contract's concurrency). */
export async function startLoadTestWorker(db: Db, opts: { masterKey?: Buffer } = {}): Promise<{ close(): Promise<void> }> {
  // Rows from before prompt sets were sealed are sealed once, before this worker runs anything.
  if (opts.masterKey) {
    const sealed = await sealStoredPlaintextPrompts(db, opts.masterKey);
    if (sealed) log.info('sealed the plaintext prompt sets of earlier load tests', { rows: sealed });
  }
  return defineConsumer('loadtest', ({ loadTestId }) => executeLoadTest(db, loadTestId, opts));
}
