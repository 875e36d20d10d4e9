import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { quantizeGguf } from '../../server/lifecycle/quantize/quantize';
import { writeSyntheticGguf } from './synthetic';

/**
 * `npm run bench:quantize`: a synthetic F32 GGUF of 1 GiB (4 × 8192×8192) quantized to Q8_0 and F16, next to
 * two ceilings from the same run: reading the file through one reused buffer, and the bare scale-and-round loop.
 */
const TENSORS = 4, ROWS = 8192, COLS = 8192;
const CHUNK_BYTES = 4 << 20;
const gb = (bytes: number, seconds: number) => Number((bytes / seconds / 1e9).toFixed(3));
const maxRssMB = () => Math.round(process.resourceUsage().maxRSS / 1024);

function readCeiling(file: string): number {
  const buffer = Buffer.alloc(CHUNK_BYTES);
  const fd = fs.openSync(file, 'r');
  const size = fs.fstatSync(fd).size;
  const start = performance.now();
  for (let at = 0; at < size; ) at += fs.readSync(fd, buffer, 0, buffer.length, at);
  const seconds = (performance.now() - start) / 1000;
  fs.closeSync(fd);
  return gb(size, seconds);
}

/** Only x·(1/d) rounded half away from zero into int8, over as many floats as the file holds: no max, no I/O. */
function roundCeiling(file: string, dataOffset: number, floats: number): number {
  const src = new Float32Array(CHUNK_BYTES / 4);
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, new Uint8Array(src.buffer), 0, CHUNK_BYTES, dataOffset);
  fs.closeSync(fd);
  const bits = new Int32Array(src.buffer);
  const dst = new Int8Array(src.length);
  const id = Math.fround(127 / 0.1);
  const start = performance.now();
  for (let done = 0; done < floats; done += src.length) {
    for (let i = 0; i < src.length; i++) {
      const r = (Math.abs(Math.fround(src[i]! * id)) + 0.5) | 0; // the kernel's own rounding
      const sign = bits[i]! >> 31;
      dst[i] = (r ^ sign) - sign;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  if (dst[1] === 999) console.log(''); // keeps the loop's result observable
  return gb(floats * 4, seconds);
}

// The load average is printed because these 2-core machines are shared: other work moves the figures.
const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.arch()}`, loadAverage1m: Number(os.loadavg()[0]!.toFixed(2)) };
console.log(`machine: ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, ${machine.platform}, load average ${machine.loadAverage1m}`);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-bench-quantize-'));
try {
  const input = path.join(dir, 'synthetic-f32.gguf');
  let start = performance.now();
  const f32Bytes = writeSyntheticGguf(input, TENSORS, ROWS, COLS);
  const inputBytes = fs.statSync(input).size;
  // Flushed before anything is timed: otherwise the first run (the one-thread one) competes with the kernel
  // writing back this 1 GB of dirty pages, which a quantizer reading an existing model never does.
  const syncFd = fs.openSync(input, 'r+');
  fs.fsyncSync(syncFd);
  fs.closeSync(syncFd);
  console.log(`synthetic F32 GGUF: ${(inputBytes / 1e9).toFixed(3)} GB (${TENSORS} × ${ROWS}×${COLS}) written in ${((performance.now() - start) / 1000).toFixed(1)} s`);

  const readGBps = readCeiling(input);
  console.log(`ceiling, read into one reused ${CHUNK_BYTES >> 20} MiB buffer: ${readGBps} GB/s`);
  const roundGBps = roundCeiling(input, inputBytes - f32Bytes, f32Bytes / 4);
  console.log(`ceiling, bare scale-and-round loop (one core): ${roundGBps} GB/s of F32`);

  const runs: Record<string, { seconds: number; f32GBps: number; cpuSeconds: number; outputBytes: number; converted: number; kept: number; maxRssMB: number }> = {};
  // One core first, so that its peak RSS is not the worker threads'; then the default (every core, up to 4).
  const cases = [['q8_0 1 thread', 'q8_0', 1], ['q8_0', 'q8_0', undefined], ['f16', 'f16', undefined]] as const;
  for (const [name, type, threads] of cases) {
    const output = path.join(dir, `out-${type}.gguf`);
    start = performance.now();
    const cpu = process.cpuUsage();
    const r = await quantizeGguf(input, output, type, { threads });
    const seconds = (performance.now() - start) / 1000;
    // CPU time of the whole process (every thread, user + system): less moved by other work than wall time.
    const { user, system } = process.cpuUsage(cpu);
    const cpuSeconds = Number(((user + system) / 1e6).toFixed(3));
    runs[name] = { seconds: Number(seconds.toFixed(3)), f32GBps: gb(f32Bytes, seconds), cpuSeconds, outputBytes: r.outputBytes, converted: r.converted, kept: r.kept, maxRssMB: maxRssMB() };
    console.log(`${name}: ${runs[name].f32GBps} GB/s of F32 input (${seconds.toFixed(2)} s, ${cpuSeconds} s CPU, ${(r.outputBytes / 1e9).toFixed(3)} GB out), peak RSS so far ${runs[name].maxRssMB} MB`);
    fs.rmSync(output);
  }
  const peakRssMB = maxRssMB();
  console.log(
    JSON.stringify({
      bench: 'quantize',
      machine,
      inputBytes,
      f32Bytes,
      ceilings: { readGBps, roundGBps },
      runs,
      peakRssMB,
      loadAverage1mAtEnd: Number(os.loadavg()[0]!.toFixed(2)),
      targets: { q8_0OneCoreAtLeast0_5GBps: runs['q8_0 1 thread']!.f32GBps >= 0.5, q8_0AtLeast0_5GBps: runs.q8_0!.f32GBps >= 0.5, peakRssUnder300MB: peakRssMB < 300 },
    }),
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
