import { Worker } from 'node:worker_threads';
import { chunkBuffers, convertChunk, type ChunkBuffers, type OpCode } from './convert-chunk';
import { CONTROL } from './pool-protocol';

type Slot = { worker: Worker; control: Int32Array; buffers: ChunkBuffers; pending: { position: number } | null };
type Write = (buffer: ArrayBufferLike, length: number, position: number) => void;

/**
 * Converters for alternate chunks: the main thread and `threads - 1` workers take turns. The main thread
 * reads every chunk into the buffer of the converter whose turn it is; while a worker converts its chunk the
 * main thread converts its own, then writes each result when it is ready. Output goes to positions, so
 * the order in which chunks finish does not matter. One worker fewer than threads keeps memory down (each
 * worker is a V8 isolate with its own module loader).
 */
export class ConvertPool {
  private slots: Slot[] = [];
  private local: ChunkBuffers;
  private turn = 0;

  constructor(threads: number, chunk: number, private write: Write) {
    this.local = chunkBuffers(chunk, false);
    for (let i = 1; i < threads; i++) {
      const control = new Int32Array(new SharedArrayBuffer(CONTROL.LENGTH * 4));
      const buffers = chunkBuffers(chunk, true);
      const worker = new Worker(new URL('./convert-worker.mjs', import.meta.url), { workerData: { control: control.buffer, buffers } });
      worker.unref();
      this.slots.push({ worker, control, buffers, pending: null });
    }
  }

  /** Fills the next converter's input buffer with `fill`, converts it (here or in a worker), writes the result at `position`. */
  convert(op: OpCode, n: number, position: number, fill: (input: ArrayBufferLike) => void): void {
    const turn = this.turn++ % (this.slots.length + 1);
    if (turn === 0) {
      fill(this.local.input);
      this.write(this.local.output, convertChunk(op, n, this.local), position);
      return;
    }
    const slot = this.slots[turn - 1]!;
    this.finish(slot);
    fill(slot.buffers.input);
    slot.control[CONTROL.OP] = op;
    slot.control[CONTROL.N] = n;
    // From IDLE only: a worker that failed to start has already written FAILED, which must not be lost.
    if (Atomics.compareExchange(slot.control, CONTROL.STATE, CONTROL.IDLE, CONTROL.WORK) !== CONTROL.IDLE) throw new Error('quantize: a converter thread failed to start (its error is on stderr)');
    slot.pending = { position };
    Atomics.notify(slot.control, CONTROL.STATE);
  }

  /** Waits for the slot's chunk, if any, and writes it out. */
  private finish(slot: Slot) {
    if (!slot.pending) return;
    // A worker that fails says so (FAILED); one killed outright never answers, so the wait is bounded.
    if (Atomics.wait(slot.control, CONTROL.STATE, CONTROL.WORK, 60_000) === 'timed-out') throw new Error('quantize: a converter thread stopped answering');
    if (Atomics.load(slot.control, CONTROL.STATE) === CONTROL.FAILED) throw new Error('quantize: a converter thread failed (its error is on stderr)');
    this.write(slot.buffers.output, slot.control[CONTROL.OUT_BYTES]!, slot.pending.position);
    slot.pending = null;
    Atomics.store(slot.control, CONTROL.STATE, CONTROL.IDLE);
  }

  /** Writes every chunk still in flight. */
  drain() {
    for (const slot of this.slots) this.finish(slot);
  }

  close() {
    for (const slot of this.slots) {
      Atomics.store(slot.control, CONTROL.STATE, CONTROL.EXIT);
      Atomics.notify(slot.control, CONTROL.STATE);
      void slot.worker.terminate();
    }
    this.slots = [];
  }
}
