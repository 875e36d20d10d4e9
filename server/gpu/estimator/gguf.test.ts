import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { expect, test } from 'vitest';
import { TEST_MODEL_PATH } from '../../engines/llamacpp/test-support';
import { estimateMemory, EstimatorInputError, readGgufModel, shapeFromGguf } from '.';

test('reads stories260K header metadata, agreeing with node-llama-cpp’s own GGUF reader', async () => {
  const model = readGgufModel(TEST_MODEL_PATH);
  expect(model.fileBytes).toBe(fs.statSync(TEST_MODEL_PATH).size);
  const reference = await readGgufFileInfo(TEST_MODEL_PATH, { readTensorInfo: false });
  const llama = (reference.metadata as unknown as { llama: Record<string, unknown> }).llama;
  const attention = llama.attention as Record<string, unknown>;
  expect(model.metadata['general.architecture']).toBe(reference.metadata.general.architecture);
  expect(model.metadata['llama.block_count']).toBe(llama.block_count);
  expect(model.metadata['llama.embedding_length']).toBe(llama.embedding_length);
  expect(model.metadata['llama.attention.head_count']).toBe(attention.head_count);
  expect(model.metadata['llama.attention.head_count_kv']).toBe(attention.head_count_kv);
  expect(model.metadata['tokenizer.ggml.tokens.length']).toBe((reference.metadata.tokenizer!.ggml.tokens as string[]).length);

  expect(shapeFromGguf(model)).toMatchObject({ architecture: 'llama', layers: 5, hiddenSize: 64, attentionHeads: 8, kvHeads: 4, headDim: 8, vocabSize: 512 });
});

test('estimates a GGUF model: the file is the weights, split over TP', () => {
  const model = readGgufModel(TEST_MODEL_PATH);
  const e = estimateMemory(model, { maxModelLen: 1024 });
  expect(e.perGpu.weightsBytes).toBe(model.fileBytes);
  expect(e.kvCacheBytesPerToken).toBe(2 * 5 * 4 * 8 * 2);
  expect(e.perGpu.kvCacheBytes).toBe(1024 * e.kvCacheBytesPerToken);
  expect(estimateMemory(model, { tp: 2 }).perGpu.weightsBytes).toBe(Math.ceil(model.fileBytes / 2));
  expect(estimateMemory(model, { tp: 3 }).error).toBe('Total number of attention heads (8) must be divisible by tensor parallel size (3).');
});

test('a file that is not GGUF, or is cut short, is a clear error', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-gguf-'));
  try {
    const notGguf = path.join(dir, 'config.json');
    fs.writeFileSync(notGguf, '{"hidden_size": 1}');
    expect(() => readGgufModel(notGguf)).toThrow(/is not a GGUF file/);
    const truncated = path.join(dir, 'cut.gguf');
    fs.writeFileSync(truncated, fs.readFileSync(TEST_MODEL_PATH).subarray(0, 200));
    expect(() => readGgufModel(truncated)).toThrow(EstimatorInputError);
    expect(() => readGgufModel(truncated)).toThrow(/truncated/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});
