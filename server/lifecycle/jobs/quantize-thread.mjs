// Runs one GGUF quantization in a worker thread, so the worker's event loop keeps following trainers,
// renewing leases and answering BullMQ while a multi-GB file is converted. Worker threads do not inherit
// the tsx loader: register it here (as quantize/convert-worker.mjs does).
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

try {
  register();
  const { quantizeGguf } = await import('../quantize/quantize.ts');
  parentPort.postMessage({ ok: true, result: quantizeGguf(workerData.input, workerData.output, workerData.target) });
} catch (e) {
  parentPort.postMessage({ ok: false, message: e instanceof Error ? e.message : String(e) });
}
