import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGgufModel, shapeFromGguf } from '../../gpu/estimator/gguf';
import { startLlamaCppEngine } from '../../engines/llamacpp/process';
import { postJson, TEST_MODEL_PATH } from '../../engines/llamacpp/test-support';
import { GGML_F16, GGML_F32, GGML_Q8_0, GgufError } from '../../gguf/format';
import { F16_TABLE } from './kernels';
import { quantizeGguf } from './quantize';
import { readGguf, type GgufLayout, type GgufTensor } from '../../gguf/reader';

let dir: string;
const out = (name: string) => path.join(dir, name);
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-quantize-'));
  await quantizeGguf(TEST_MODEL_PATH, out('f16.gguf'), 'f16');
  await quantizeGguf(TEST_MODEL_PATH, out('q8_0.gguf'), 'q8_0');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const source = () => readGguf(TEST_MODEL_PATH);
function tensorData(layout: GgufLayout, t: GgufTensor): Buffer {
  const fd = fs.openSync(layout.file, 'r');
  try {
    const b = Buffer.alloc(t.bytes);
    fs.readSync(fd, b, 0, t.bytes, layout.dataOffset + t.offset);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}
const floats = (b: Buffer) => new Float32Array(b.buffer, b.byteOffset, b.length / 4);

describe('stories260K to Q8_0', () => {
  it('converts matrices whose rows are whole blocks, keeps the rest, and sizes Q8_0 as n/32 × 34', () => {
    const src = source();
    const q = readGguf(out('q8_0.gguf'));
    expect(q.version).toBe(3);
    expect(q.tensors.map((t) => [t.name, t.ne])).toEqual(src.tensors.map((t) => [t.name, t.ne]));
    for (const [i, t] of q.tensors.entries()) {
      const n = t.ne.reduce((a, b) => a * b, 1);
      const convertible = t.ne.length >= 2 && t.ne[0]! % 32 === 0;
      expect([t.name, t.type]).toEqual([t.name, convertible ? GGML_Q8_0 : GGML_F32]);
      expect(t.bytes).toBe(convertible ? (n / 32) * 34 : n * 4);
      expect((q.dataOffset + t.offset) % q.alignment).toBe(0);
      if (!convertible) expect(tensorData(q, t).equals(tensorData(src, src.tensors[i]!))).toBe(true);
    }
    expect(q.tensors.find((t) => t.name === 'blk.0.ffn_down.weight')!.type).toBe(GGML_F32); // rows of 172
    const last = q.tensors.at(-1)!;
    expect(fs.statSync(out('q8_0.gguf')).size).toBe(q.dataOffset + last.offset + last.bytes);
  });

  it('dequantizes to within half a step of every original value', () => {
    const src = source();
    const q = readGguf(out('q8_0.gguf'));
    for (const name of ['token_embd.weight', 'blk.3.attn_q.weight', 'blk.4.ffn_up.weight']) {
      const original = floats(tensorData(src, src.tensors.find((t) => t.name === name)!));
      const data = tensorData(q, q.tensors.find((t) => t.name === name)!);
      const outside: string[] = []; // one expect per tensor: thousands of expects make the test slow
      for (let b = 0; b < original.length / 32; b++) {
        const d = F16_TABLE[data.readUInt16LE(b * 34)]!;
        for (let j = 0; j < 32; j++) {
          const x = original[b * 32 + j]!;
          const y = data.readInt8(b * 34 + 2 + j) * d;
          if (!(Math.abs(y - x) <= d * 0.5 + Math.abs(x) * 2e-3)) outside.push(`${name}[${b * 32 + j}]: ${x} → ${y}`);
        }
      }
      expect(outside).toEqual([]);
    }
  });

  it('quantizes F16 input too (F16 file to Q8_0)', async () => {
    const r = await quantizeGguf(out('f16.gguf'), out('f16-q8.gguf'), 'q8_0');
    const q = readGguf(out('f16-q8.gguf'));
    expect(q.tensors.filter((t) => t.type === GGML_Q8_0).length).toBe(r.converted);
    expect(q.tensors.find((t) => t.name === 'blk.0.ffn_down.weight')!.type).toBe(GGML_F16); // kept as it came
    fs.rmSync(out('f16-q8.gguf'));
  });
});

describe('converter threads', () => {
  it('two converters, and worker threads only, write byte for byte what the calling thread alone writes', async () => {
    for (const type of ['q8_0', 'f16'] as const) {
      for (const [name, options] of [['threads', { threads: 2 }], ['off-thread', { offThread: true }], ['off-thread-2', { threads: 2, offThread: true }]] as const) {
        await quantizeGguf(TEST_MODEL_PATH, out(`${name}-${type}.gguf`), type, options);
        expect(fs.readFileSync(out(`${name}-${type}.gguf`)).equals(fs.readFileSync(out(`${type}.gguf`)))).toBe(true);
        fs.rmSync(out(`${name}-${type}.gguf`));
      }
    }
  });
});

describe('stories260K to F16', () => {
  it('converts every F32 matrix to F16 with at most half an ulp of error, and keeps 1-D tensors in F32', () => {
    const src = source();
    const h = readGguf(out('f16.gguf'));
    for (const [i, t] of h.tensors.entries()) {
      const n = t.ne.reduce((a, b) => a * b, 1);
      expect(t.type).toBe(t.ne.length >= 2 ? GGML_F16 : GGML_F32);
      expect(t.bytes).toBe(n * (t.ne.length >= 2 ? 2 : 4));
      if (t.type !== GGML_F16) continue;
      const original = floats(tensorData(src, src.tensors[i]!));
      const data = tensorData(h, t);
      const outside: string[] = [];
      for (let j = 0; j < n; j++) {
        const x = original[j]!;
        const y = F16_TABLE[data.readUInt16LE(j * 2)]!;
        if (!(Math.abs(y - x) <= Math.max(Math.abs(x) * 2 ** -11, 2 ** -25))) outside.push(`${t.name}[${j}]: ${x} → ${y}`);
      }
      expect(outside).toEqual([]);
    }
  });
});

describe('metadata', () => {
  it('a round trip through the reader keeps every key, type and value, in order, and sets file_type and quantization_version', () => {
    const src = source();
    for (const [file, fileType] of [['f16.gguf', 1], ['q8_0.gguf', 7]] as const) {
      const q = readGguf(out(file));
      const set = ['general.file_type', 'general.quantization_version'];
      expect(q.metadata.filter((m) => !set.includes(m.key))).toEqual(src.metadata);
      expect(q.metadata.filter((m) => set.includes(m.key))).toEqual([
        { key: 'general.file_type', type: 4, value: fileType },
        { key: 'general.quantization_version', type: 4, value: 2 },
      ]);
      // The estimator's independent reader sees the same model.
      expect(shapeFromGguf(readGgufModel(out(file)))).toEqual(shapeFromGguf(readGgufModel(TEST_MODEL_PATH)));
    }
  });
});

describe('the real llamacpp engine', () => {
  for (const file of ['f16.gguf', 'q8_0.gguf']) {
    it(`loads the ${file} output and generates tokens`, async () => {
      const engine = await startLlamaCppEngine({ name: 'quantized', modelPath: out(file), threads: 1, context: 1024, sequences: 1 });
      try {
        const res = await postJson(`${engine.url}/v1/completions`, { prompt: 'Once upon a time', max_tokens: 12, ignore_eos: true });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { usage: { completion_tokens: number }; choices: { text: string }[] };
        expect(body.usage.completion_tokens).toBe(12);
        expect(body.choices[0]!.text.length).toBeGreaterThan(0);
      } finally {
        await engine.stop();
      }
    }, 60_000);
  }
});

describe('bad input', () => {
  const bytes = fs.readFileSync(TEST_MODEL_PATH);
  const fails = async (name: string, content: Buffer, message: RegExp) => {
    const input = out(`${name}.gguf`);
    fs.writeFileSync(input, content);
    const target = out(`${name}-out.gguf`);
    await expect(quantizeGguf(input, target, 'q8_0')).rejects.toThrow(GgufError);
    await expect(quantizeGguf(input, target, 'q8_0')).rejects.toThrow(message);
    expect(fs.readdirSync(dir).filter((f) => f.includes(`${name}-out`))).toEqual([]); // no output, no partial file
    fs.rmSync(input);
  };

  it('a file cut in its tensor data: names the tensor, writes nothing', () => fails('cut-data', bytes.subarray(0, 600_000), /runs past the end of the file.*truncated/));
  it('a file cut in its header', () => fails('cut-header', bytes.subarray(0, 5_000), /truncated GGUF header/));
  it('not a GGUF file', () => fails('magic', Buffer.from('{"not": "gguf"}'), /not a GGUF file \(bad magic\)/));
  it('an unsupported version', async () => {
    const v4 = Buffer.from(bytes);
    v4.writeUInt32LE(4, 4);
    await fails('version', v4, /GGUF version 4 is not supported/);
  });
  it('a corrupt array length', async () => {
    const corrupt = Buffer.from(bytes);
    // The first entry is tokenizer.ggml.tokens: u64 key length, key, u32 type, u32 item type, u64 count.
    const count = 24 + 8 + 'tokenizer.ggml.tokens'.length + 8;
    corrupt.writeBigUInt64LE(10n ** 12n, count);
    await fails('array', corrupt, /array tokenizer\.ggml\.tokens of 1000000000000 items runs past the end/);
  });
  it('GGUF v2 input is read like v3 and written as v3', async () => {
    const v2 = Buffer.from(bytes);
    v2.writeUInt32LE(2, 4);
    fs.writeFileSync(out('v2.gguf'), v2);
    await quantizeGguf(out('v2.gguf'), out('v2-q8.gguf'), 'q8_0');
    expect(readGguf(out('v2.gguf')).version).toBe(2);
    expect(fs.readFileSync(out('v2-q8.gguf')).equals(fs.readFileSync(out('q8_0.gguf')))).toBe(true);
    fs.rmSync(out('v2.gguf'));
    fs.rmSync(out('v2-q8.gguf'));
  });
  it('an output directory that does not exist', async () => {
    await expect(quantizeGguf(TEST_MODEL_PATH, out('no/such/dir/x.gguf'), 'q8_0')).rejects.toThrow(/cannot write .*x\.gguf: its directory does not exist/);
  });
  it('a missing file, the input as output, an unknown type', async () => {
    await expect(quantizeGguf(out('absent.gguf'), out('x.gguf'), 'q8_0')).rejects.toThrow(/absent\.gguf: no such file/);
    await expect(quantizeGguf(out('f16.gguf'), out('./f16.gguf'), 'q8_0')).rejects.toThrow(/is the input file/);
    await expect(quantizeGguf(out('f16.gguf'), out('x.gguf'), 'q4' as 'q8_0')).rejects.toThrow(/unknown type q4/);
    expect(fs.existsSync(out('x.gguf'))).toBe(false);
  });
});
