import { Worker } from 'node:worker_threads';
import { chunkBuffers, convertChunk, type ChunkBuffers, type OpCode } from './convert-chunk';

type Write = (buffer: ArrayBufferLike, length: number, position: number) => Promise<void> | void;

/** One worker thread converting the chunks put in its shared buffers (convert-worker.mjs). */
class ConverterThread {
  readonly buffers: ChunkBuffers;
  private worker: Worker;
  private waiting: { resolve: (bytes: number) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(chunk: number) {
    this.buffers = chunkBuffers(chunk, true);
    this.worker = new Worker(new URL('./convert-worker.mjs', import.meta.url), { workerData: { buffers: this.buffers } });
    this.worker.on('message', (m: { bytes: number } | { error: string }) => {
      const waiting = this.waiting;
      this.waiting = undefined;
      if ('bytes' in m) waiting?.resolve(m.bytes);
      else waiting?.reject(new Error(`quantize: a converter thread failed: ${m.error}`));
    });
    // A thread that cannot start (its loader, its imports) or dies fails its chunk and every later one.
    this.worker.on('error', (e) => this.fail(new Error(`quantize: a converter thread failed: ${e.message}`)));
    this.worker.on('exit', (code) => this.fail(new Error(`quantize: a converter thread exited with code ${code}`)));
  }

  private fail(e: Error) {
    this.failure ??= e;
    this.waiting?.reject(this.failure);
    this.waiting = undefined;
  }

  convert(op: OpCode, n: number): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.worker.postMessage({ op, n });
    });
  }

  async terminate() {
    await this.worker.terminate();
  }
}

type Slot = { thread?: ConverterThread; buffers: ChunkBuffers; written?: Promise<void> };

/**
 * The converters of one quantization, taking turns over the chunks: `threads` of them, each with its own
 * buffers. The caller's thread is one of them unless `offThread` is set (a server process, whose event
 * loop must stay free): then every converter is a worker thread. The caller reads each chunk into the
 * buffers of the converter whose turn it is and writes each result when it is ready; output goes to
 * positions, so the order in which chunks finish does not matter.
 */
export class ConvertPool {
  private slots: Slot[] = [];
  private turn = 0;

  constructor(threads: number, chunk: number, private write: Write, { offThread = false } = {}) {
    if (!offThread) this.slots.push({ buffers: chunkBuffers(chunk, false) });
    while (this.slots.length < Math.max(1, threads)) {
      const thread = new ConverterThread(chunk);
      this.slots.push({ thread, buffers: thread.buffers });
    }
  }

  /** Fills the next converter's input buffer with `fill`, converts it (here or in a worker), writes the result at `position`. */
  async convert(op: OpCode, n: number, position: number, fill: (input: ArrayBufferLike) => Promise<void> | void): Promise<void> {
    const slot = this.slots[this.turn++ % this.slots.length]!;
    await slot.written; // its previous chunk is out of its buffers (or its failure is thrown here)
    await fill(slot.buffers.input);
    if (!slot.thread) return this.write(slot.buffers.output, convertChunk(op, n, slot.buffers), position);
    slot.written = slot.thread.convert(op, n).then((bytes) => this.write(slot.buffers.output, bytes, position));
    // Awaited at the slot's next turn or in drain(); until then a failure must not count as unhandled.
    slot.written.catch(() => {});
  }

  /** Waits until every chunk in flight is written. */
  async drain() {
    for (const slot of this.slots) await slot.written;
  }

  /** Stops the worker threads; once it resolves, no converter writes anything more. */
  async close() {
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((s) => s.thread?.terminate()));
    await Promise.allSettled(slots.map((s) => s.written));
  }
}
