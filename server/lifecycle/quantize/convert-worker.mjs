// One converter thread of pool.ts: converts the chunk the caller put in its shared input buffer, answers
// the output's length. Worker threads do not inherit the tsx loader that `enclave` registers through its
// API: register it here. If that or the import fails, the thread's error event tells the pool.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { convertChunk } = await import('./convert-chunk.ts');
const { buffers } = workerData;
parentPort.on('message', ({ op, n }) => {
  try {
    parentPort.postMessage({ bytes: convertChunk(op, n, buffers) });
  } catch (e) {
    parentPort.postMessage({ error: e instanceof Error ? e.message : String(e) });
  }
});
