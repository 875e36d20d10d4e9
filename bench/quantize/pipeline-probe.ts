import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { quantizeGguf } from '../../server/lifecycle/quantize/quantize';
import { quantizeQ8_0 } from '../../server/lifecycle/quantize/kernels';
import { writeSyntheticGguf } from './synthetic';

/** Where one-thread Q8_0 time goes: the whole quantizeGguf, next to read-only and kernel-only passes over the same data. */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-probe-'));
try {
  const input = path.join(dir, 'in.gguf');
  const f32Bytes = writeSyntheticGguf(input, 4, 4096, 4096);
  const size = fs.statSync(input).size;
  const buf = new Float32Array(1 << 20);
  const u8 = new Uint8Array(buf.buffer);
  const dst = new Uint8Array((buf.length / 32) * 34);
  for (let rep = 0; rep < 3; rep++) {
    let t = performance.now();
    const c0 = process.cpuUsage();
    quantizeGguf(input, path.join(dir, 'out.gguf'), 'q8_0', { threads: 1 });
    const c = process.cpuUsage(c0);
    const whole = (performance.now() - t) / 1000;
    const wholeCpu = `user ${(c.user / 1e6).toFixed(2)} s, sys ${(c.system / 1e6).toFixed(2)} s of ${whole.toFixed(2)} s`;
    const fd = fs.openSync(input, 'r');
    t = performance.now();
    for (let at = 0; at < size; ) at += fs.readSync(fd, u8, 0, u8.length, at);
    const read = (performance.now() - t) / 1000;
    t = performance.now();
    for (let at = 0; at < size; ) { const n = fs.readSync(fd, u8, 0, u8.length, at); at += n; quantizeQ8_0(buf, dst, buf.length); }
    const readKernel = (performance.now() - t) / 1000;
    fs.closeSync(fd);
    t = performance.now();
    for (let done = 0; done < f32Bytes; done += u8.length) quantizeQ8_0(buf, dst, buf.length);
    const kernel = (performance.now() - t) / 1000;
    const g = (s: number) => (f32Bytes / s / 1e9).toFixed(3);
    console.log(`whole ${g(whole)} (${wholeCpu})  read ${g(read)}  read+kernel ${g(readKernel)}  kernel ${g(kernel)} GB/s  (load ${os.loadavg()[0]!.toFixed(2)})`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
