import fs from 'node:fs';
import path from 'node:path';
import { FILE_TYPE, GGML_F16, GGML_F32, GGML_Q8_0, GgufError, Q8_0_BLOCK_BYTES, QK8_0, QUANTIZATION_VERSION, tensorBytes, ValueType } from './format';
import { f16ToF32, f32ToF16, quantizeQ8_0 } from './kernels';
import { readGguf, type GgufEntry, type GgufTensor } from './reader';
import { encodeHeader } from './writer';

export type QuantizeType = keyof typeof FILE_TYPE;
export type QuantizeResult = { inputBytes: number; outputBytes: number; tensors: number; converted: number; kept: number; seconds: number; type: QuantizeType };

/** Values per chunk: 4 MiB of F32 in, whatever the tensor size, so memory stays flat for any file. */
const CHUNK = 1 << 20;

/**
 * The type a tensor gets. Like llama.cpp: only matrices (2+ dimensions) are converted, since norms and
 * biases are tiny and ggml's elementwise ops want them in F32; Q8_0 needs whole 32-value blocks per row.
 */
export function outputType(t: Pick<GgufTensor, 'ne' | 'type'>, target: QuantizeType): number {
  if (t.ne.length < 2) return t.type;
  if (target === 'f16') return t.type === GGML_F32 ? GGML_F16 : t.type;
  if ((t.type === GGML_F32 || t.type === GGML_F16) && t.ne[0]! % QK8_0 === 0) return GGML_Q8_0;
  return t.type;
}

/** The input's metadata with general.file_type and general.quantization_version set (in place when present). */
function outputMetadata(metadata: GgufEntry[], target: QuantizeType): GgufEntry[] {
  const set: GgufEntry[] = [
    { key: 'general.file_type', type: ValueType.UINT32, value: FILE_TYPE[target] },
    { key: 'general.quantization_version', type: ValueType.UINT32, value: QUANTIZATION_VERSION },
  ];
  const out = metadata.map((m) => set.find((s) => s.key === m.key) ?? m);
  for (const s of set) if (!metadata.some((m) => m.key === s.key)) out.push(s);
  return out;
}

function readFully(fd: number, buffer: Uint8Array, length: number, position: number, file: string) {
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) throw new GgufError(`${file}: unexpected end of file at byte ${position + done}`);
    done += n;
  }
}

function writeFully(fd: number, buffer: Uint8Array, length: number, position: number) {
  let done = 0;
  while (done < length) done += fs.writeSync(fd, buffer, done, length - done, position + done);
}

/**
 * Quantizes IN to OUT, streaming: each tensor goes through the same two buffers (fs.readSync into the
 * input one, convert, write the output one), so peak memory is the header plus a few MiB. The result is
 * written under a temporary name and renamed at the end: a failure leaves no partial OUT behind.
 */
export function quantizeGguf(input: string, output: string, target: QuantizeType): QuantizeResult {
  const started = performance.now();
  if (!(target in FILE_TYPE)) throw new GgufError(`unknown type ${target} (f16 or q8_0)`);
  if (path.resolve(input) === path.resolve(output)) throw new GgufError(`output ${output} is the input file: choose another path`);
  const layout = readGguf(input);
  if (fs.existsSync(output) && fs.statSync(output).ino === fs.statSync(input).ino) throw new GgufError(`output ${output} is the input file: choose another path`);

  const plan = layout.tensors.map((t) => {
    const type = outputType(t, target);
    return { t, type, bytes: tensorBytes(type, t.ne)! };
  });
  const { header, offsets } = encodeHeader(outputMetadata(layout.metadata, target), plan.map((p) => ({ name: p.t.name, ne: p.t.ne, type: p.type, bytes: p.bytes })), layout.alignment);

  const inBuffer = new ArrayBuffer(CHUNK * 4);
  const inBytes = new Uint8Array(inBuffer);
  const outBuffer = new ArrayBuffer(CHUNK * 4);
  const outBytes = new Uint8Array(outBuffer);
  const widened = new Float32Array(CHUNK); // F16 input widened before Q8_0

  const tmp = path.join(path.dirname(path.resolve(output)), `.${path.basename(output)}.${process.pid}.partial`);
  const inFd = fs.openSync(input, 'r');
  let outFd: number | undefined;
  try {
    outFd = fs.openSync(tmp, 'w');
    writeFully(outFd, header, header.length, 0);
    let end = header.length;
    for (const [i, { t, type, bytes }] of plan.entries()) {
      const at = header.length + offsets[i]!;
      if (at > end) writeFully(outFd, new Uint8Array(at - end), at - end, end); // alignment padding
      const from = layout.dataOffset + t.offset;
      if (type === t.type) {
        for (let done = 0; done < bytes; done += inBytes.length) {
          const n = Math.min(inBytes.length, bytes - done);
          readFully(inFd, inBytes, n, from + done, input);
          writeFully(outFd, inBytes, n, at + done);
        }
      } else {
        const elements = t.ne.reduce((a, b) => a * b, 1);
        const inSize = t.type === GGML_F32 ? 4 : 2;
        let written = 0;
        for (let done = 0; done < elements; done += CHUNK) {
          const n = Math.min(CHUNK, elements - done); // a multiple of 32 whenever Q8_0 is the target
          readFully(inFd, inBytes, n * inSize, from + done * inSize, input);
          let outLength: number;
          if (type === GGML_F16) {
            f32ToF16(new Uint32Array(inBuffer, 0, n), new Uint16Array(outBuffer, 0, n), n);
            outLength = n * 2;
          } else {
            const floats = t.type === GGML_F32 ? new Float32Array(inBuffer, 0, n) : widened;
            if (t.type === GGML_F16) f16ToF32(new Uint16Array(inBuffer, 0, n), widened, n);
            outLength = (n / QK8_0) * Q8_0_BLOCK_BYTES;
            quantizeQ8_0(floats, outBytes.subarray(0, outLength), n);
          }
          writeFully(outFd, outBytes, outLength, at + written);
          written += outLength;
        }
      }
      end = at + bytes;
    }
    fs.closeSync(outFd);
    outFd = undefined;
    fs.renameSync(tmp, output);
    const tensors = plan.length;
    const converted = plan.filter((p) => p.type !== p.t.type).length;
    return { inputBytes: layout.fileBytes, outputBytes: end, tensors, converted, kept: tensors - converted, seconds: (performance.now() - started) / 1000, type: target };
  } catch (e) {
    if (outFd !== undefined) fs.closeSync(outFd);
    fs.rmSync(tmp, { force: true });
    throw e;
  } finally {
    fs.closeSync(inFd);
  }
}
