// Worker threads do not inherit the tsx loader that `enclave` registers through its API: register it here.
// If the converter cannot start, say so on the control word: the main thread waits on it, not on events.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

try {
  register();
  await import('./convert-worker.ts');
} catch (e) {
  const control = new Int32Array(workerData.control);
  Atomics.store(control, 0, 4); // CONTROL.STATE = CONTROL.FAILED (pool-protocol.ts)
  Atomics.notify(control, 0);
  console.error(`quantize converter thread: ${e instanceof Error ? e.stack : String(e)}`);
}
