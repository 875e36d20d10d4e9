import { workerData } from 'node:worker_threads';
import { convertChunk, type ChunkBuffers, type OpCode } from './convert-chunk';
import { CONTROL } from './pool-protocol';

/**
 * One converter thread: parks on its control word, converts the chunk the main thread put in the shared
 * input buffer, reports the output length and parks again. Atomics, not messages: the main thread waits
 * synchronously, so quantizeGguf stays one plain function.
 */
const { control: controlBuffer, buffers } = workerData as { control: SharedArrayBuffer; buffers: ChunkBuffers };
const control = new Int32Array(controlBuffer);
for (;;) {
  const state = Atomics.load(control, CONTROL.STATE);
  if (state === CONTROL.EXIT || state === CONTROL.FAILED) break;
  if (state !== CONTROL.WORK) {
    Atomics.wait(control, CONTROL.STATE, state); // parked until the main thread changes the state and notifies
    continue;
  }
  try {
    control[CONTROL.OUT_BYTES] = convertChunk(control[CONTROL.OP] as OpCode, control[CONTROL.N]!, buffers);
    Atomics.store(control, CONTROL.STATE, CONTROL.DONE);
  } catch (e) {
    Atomics.store(control, CONTROL.STATE, CONTROL.FAILED);
    console.error(`quantize converter thread: ${e instanceof Error ? e.stack : String(e)}`);
  }
  Atomics.notify(control, CONTROL.STATE);
}
