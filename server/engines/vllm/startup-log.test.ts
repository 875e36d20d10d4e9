import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { hasMeasurement, parseVllmStartupLog, startupMeasurementSchema, type StartupMeasurement } from './startup-log';

const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, 'fixtures', name), 'utf8');
const GiB = 1024 ** 3;
const gib = (bytes: number | null) => (bytes === null ? null : Number((bytes / GiB).toFixed(4)));

/** The figures as vLLM printed them (GiB, counts): each recorded log of fixtures/startup (see SOURCES.md). */
const RECORDED: [file: string, expected: Partial<Record<keyof StartupMeasurement, number | string | null>>][] = [
  [
    'v0-0.6.4-llama31-8b-rtx3090.log',
    // The 0.6.4 profile gives the torch peak with the weights in it: activation = 17.06 - 14.9888.
    { wording: 'v0', weightsBytes: 14.9888, nonTorchBytes: 0.35, activationBytes: 2.0712, kvCacheBytes: 3.81, gpuBlocks: 1952, maxConcurrency: 1.56, concurrencyTokens: 20000, totalGpuMemoryBytes: 23.58, gpuMemoryUtilization: 0.9 },
  ],
  [
    'v0-0.6.4-bamba-tp2-h100.log',
    // Two ranks: the larger weights and peak, the smaller KV pool (34.78 of 34.96), as vLLM sizes the cache by the smallest.
    { wording: 'v0', weightsBytes: 18.4902, nonTorchBytes: 1.96, activationBytes: 16.0098, kvCacheBytes: 34.78, gpuBlocks: 189945, maxConcurrency: 2967.89, concurrencyTokens: 1024, totalGpuMemoryBytes: 79.15 },
  ],
  [
    'v0-0.6.5-llama3-8b-h100-multiline.log',
    { wording: 'v0', weightsBytes: 14.96, nonTorchBytes: 1.79, activationBytes: 1.26, kvCacheBytes: 53.29, gpuBlocks: null, maxConcurrency: null, totalGpuMemoryBytes: 79.22, gpuMemoryUtilization: 0.9 },
  ],
  [
    'v0-0.8.1-kubectl-the-rest.log',
    { wording: 'v0', weightsBytes: 12.55, nonTorchBytes: 0.16, activationBytes: 2.38, kvCacheBytes: 56.18, gpuBlocks: 7191, totalGpuMemoryBytes: 79.19, gpuMemoryUtilization: 0.9 },
  ],
  ['v1-0.7.1-llama31-70b-w8a8.log', { wording: 'v1', weightsBytes: 67.7229, gpuBlocks: 1381, maxConcurrency: 10.79, concurrencyTokens: 2048, kvCacheBytes: null, nonTorchBytes: null }],
  // "Loading weights took 4.60 seconds" is the loader's time: only "Model loading took 11.4384 GiB" is memory.
  ['v1-0.9-model-loading-tp2.log', { wording: 'v1', weightsBytes: 11.4384, kvCacheBytes: null }],
  ['v1-0.10-qwen3-14b.log', { wording: 'v1', kvCacheBytes: 6.51, kvCacheTokens: 42656, maxConcurrency: 1.3, concurrencyTokens: 32768, weightsBytes: null }],
  ['v1-0.11-kimi-linear-tp2.log', { wording: 'v1', kvCacheBytes: 2.3, kvCacheTokens: 75840, maxConcurrency: 2.48, concurrencyTokens: 120000 }],
  ['v1-recent-graph-capture.log', { wording: 'v1', kvCacheTokens: 396928, maxConcurrency: 3.03, concurrencyTokens: 131072, cudaGraphBytes: 0.11 }],
  ['v1-0.19-model-loading-memory.log', { wording: 'v1', weightsBytes: 12.66, cudaGraphBytes: null }],
];

const BYTE_FIELDS = new Set(['weightsBytes', 'nonTorchBytes', 'activationBytes', 'cudaGraphBytes', 'kvCacheBytes', 'totalGpuMemoryBytes']);

test.each(RECORDED)('%s: the figures vLLM printed', (file, expected) => {
  const m = parseVllmStartupLog(fixture(`startup/${file}`));
  expect(startupMeasurementSchema.parse(m)).toEqual(m);
  const shown = Object.fromEntries(Object.keys(expected).map((k) => [k, BYTE_FIELDS.has(k) ? gib(m[k as keyof StartupMeasurement] as number | null) : m[k as keyof StartupMeasurement]]));
  expect(shown).toEqual(expected);
  expect(hasMeasurement(m)).toBe(true);
});

test('covers V0 and V1 wordings across at least four versions', () => {
  const wordings = RECORDED.map(([, e]) => e.wording);
  expect(wordings.filter((w) => w === 'v0').length).toBeGreaterThanOrEqual(3);
  expect(wordings.filter((w) => w === 'v1').length).toBeGreaterThanOrEqual(3);
  expect(new Set(RECORDED.map(([f]) => f.split('-')[1])).size).toBeGreaterThanOrEqual(4);
});

test('the version from the banner or the engine line', () => {
  expect(parseVllmStartupLog('INFO 01-01 00:00:00 [api_server.py:1043] vLLM API server version 0.9.0').version).toBe('0.9.0');
  expect(parseVllmStartupLog("INFO 05-13 16:41:31 [core.py:97] Initializing a V1 LLM engine (v0.14.1) with config: model='x'").version).toBe('0.14.1');
  expect(parseVllmStartupLog('Python version: 3.10.14 | packaged by conda-forge').version).toBeNull();
});

test('a failed start reads what it got to; a negative rest stays negative (it is what vLLM found)', () => {
  const m = parseVllmStartupLog(
    'INFO 12-22 10:55:34 worker.py:241] model weights take 6.59GiB; non_torch_memory takes 8.29GiB; PyTorch activation peak memory takes 4.93GiB; the rest of the memory reserved for KV Cache is -7.83GiB.',
  );
  expect(gib(m.weightsBytes)).toBe(6.59);
  expect(gib(m.kvCacheBytes)).toBe(-7.83);
  expect(parseVllmStartupLog(fixture('oom-load-model.log'))).toMatchObject({ weightsBytes: null, kvCacheBytes: null, maxConcurrency: null });
});

test('strange logs leave every field null and never throw', () => {
  const empty = parseVllmStartupLog('');
  expect(hasMeasurement(empty)).toBe(false);
  expect(Object.values(empty).every((v) => v === null)).toBe(true);
  for (const strange of [
    '\0\x01\x02 binary \uFFFD',
    'Loading model weights took lots of GB',
    'Maximum concurrency for many tokens per request: fast',
    'GPU KV cache size: tokens',
    'x'.repeat(100_000),
    'Model loading took NaN GiB',
    '\r\r\n\n',
    undefined as unknown as string,
    42 as unknown as string,
  ]) {
    expect(() => parseVllmStartupLog(strange)).not.toThrow();
    expect(hasMeasurement(parseVllmStartupLog(strange))).toBe(false);
  }
});
