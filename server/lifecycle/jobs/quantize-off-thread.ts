import { Worker } from 'node:worker_threads';
import type { QuantizeResult, QuantizeType } from '../quantize/quantize';

/** quantizeGguf in a worker thread (see quantize-thread.mjs); rejects with the quantizer's own message. */
export function quantizeOffThread(input: string, output: string, target: QuantizeType): Promise<QuantizeResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./quantize-thread.mjs', import.meta.url), { workerData: { input, output, target } });
    worker.once('message', (m: { ok: true; result: QuantizeResult } | { ok: false; message: string }) => (m.ok ? resolve(m.result) : reject(new Error(m.message))));
    worker.once('error', reject);
    // After a message this is a no-op; without one the thread died (out of memory, a crash).
    worker.once('exit', (code) => reject(new Error(`the quantizer thread exited with code ${code}`)));
  });
}
