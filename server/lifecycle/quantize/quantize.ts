import fs from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inputSize, opFor } from './convert-chunk';
import { FILE_TYPE, GGML_F16, GGML_F32, GGML_Q8_0, GgufError, QK8_0, QUANTIZATION_VERSION, tensorBytes, ValueType } from '../../gguf/format';
import { ConvertPool } from './pool';
import { readGguf, type GgufEntry, type GgufTensor } from '../../gguf/reader';
import { encodeHeader } from '../../gguf/writer';

export type QuantizeType = keyof typeof FILE_TYPE;
export type QuantizeResult = { inputBytes: number; outputBytes: number; tensors: number; converted: number; kept: number; seconds: number; type: QuantizeType };

/** Values per chunk: 4 MiB of F32 in, whatever the tensor size, so memory stays flat for any file. */
const CHUNK = 1 << 20;
/** Below this much to convert, starting another worker thread (about half a second with its loader) costs more than it saves. */
const PARALLEL_FROM_BYTES = 256 << 20;

export type QuantizeOptions = {
  /** converters; default: up to 4 cores for large files, else 1 */
  threads?: number;
  /** convert on worker threads only, never on the calling one (a server process's event loop stays free) */
  offThread?: boolean;
};

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

async function readFully(file: FileHandle, buffer: Uint8Array, length: number, position: number, name: string) {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new GgufError(`${name}: unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
}

async function writeFully(file: FileHandle, buffer: Uint8Array, length: number, position: number) {
  let done = 0;
  while (done < length) done += (await file.write(buffer, done, length - done, position + done)).bytesWritten;
}

async function openOutput(tmp: string, output: string): Promise<FileHandle> {
  try {
    return await fsp.open(tmp, 'w');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new GgufError(`cannot write ${output}: ${code === 'ENOENT' ? 'its directory does not exist' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  }
}

/**
 * Quantizes IN to OUT, streaming: each tensor goes through the same few buffers (read into an input one,
 * convert, write the output one), so peak memory is the header plus a few MiB per converter. With several
 * threads, chunks take turns over the converters (pool.ts). Reads and writes are asynchronous, and with
 * `offThread` no conversion runs on the calling thread: a server process quantizing a multi-GB file keeps
 * answering. The result is written under a temporary name and renamed at the end: a failure leaves no
 * partial OUT behind.
 */
export async function quantizeGguf(input: string, output: string, target: QuantizeType, options: QuantizeOptions = {}): Promise<QuantizeResult> {
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

  const copyBuffer = new Uint8Array(CHUNK * 4);
  const convertBytes = plan.filter((p) => p.type !== p.t.type).reduce((a, p) => a + p.t.bytes, 0);
  const threads = options.threads ?? (convertBytes >= PARALLEL_FROM_BYTES ? Math.min(os.availableParallelism(), 4) : 1);

  const tmp = path.join(path.dirname(path.resolve(output)), `.${path.basename(output)}.${process.pid}.partial`);
  const inFile = await fsp.open(input, 'r');
  let outFile: FileHandle | undefined;
  let pool: ConvertPool | undefined;
  try {
    const out = (outFile = await openOutput(tmp, output));
    pool = new ConvertPool(threads, CHUNK, (buffer, length, position) => writeFully(out, new Uint8Array(buffer, 0, length), length, position), { offThread: options.offThread });
    await writeFully(out, header, header.length, 0);
    let end = header.length;
    for (const [i, { t, type, bytes }] of plan.entries()) {
      const at = header.length + offsets[i]!;
      if (at > end) await writeFully(out, new Uint8Array(at - end), at - end, end); // alignment padding
      const from = layout.dataOffset + t.offset;
      if (type === t.type) {
        for (let done = 0; done < bytes; done += copyBuffer.length) {
          const n = Math.min(copyBuffer.length, bytes - done);
          await readFully(inFile, copyBuffer, n, from + done, input);
          await writeFully(out, copyBuffer, n, at + done);
        }
      } else {
        const op = opFor(t.type, type);
        const size = inputSize(op);
        const elements = t.ne.reduce((a, b) => a * b, 1);
        const outPerValue = bytes / elements;
        for (let done = 0; done < elements; done += CHUNK) {
          const n = Math.min(CHUNK, elements - done); // a multiple of 32 whenever Q8_0 is the target
          await pool.convert(op, n, at + done * outPerValue, (buffer) => readFully(inFile, new Uint8Array(buffer), n * size, from + done * size, input));
        }
      }
      end = at + bytes;
    }
    await pool.drain();
    outFile = undefined;
    await out.close();
    fs.renameSync(tmp, output);
    const tensors = plan.length;
    const converted = plan.filter((p) => p.type !== p.t.type).length;
    return { inputBytes: layout.fileBytes, outputBytes: end, tensors, converted, kept: tensors - converted, seconds: (performance.now() - started) / 1000, type: target };
  } catch (e) {
    // Every converter stopped first: none may write into the file once it is closed and removed.
    await pool?.close();
    await outFile?.close();
    fs.rmSync(tmp, { force: true });
    throw e;
  } finally {
    await pool?.close();
    await inFile.close();
  }
}
