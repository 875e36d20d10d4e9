import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { startupMeasurementSchema } from '../vllm/startup-log';
import { parseSglangStartupLog } from './startup-log';

const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, 'fixtures', name), 'utf8');
const GiB = 1024 ** 3;

test("a recorded SGLang start (QwQ-32B, TP 4, 24 GB GPUs): weights, KV pool and CUDA graphs per GPU, in the store's shape", () => {
  const m = parseSglangStartupLog(fixture('startup-qwq-32b-tp4.log'));
  expect(startupMeasurementSchema.parse(m)).toEqual(m);
  expect(m).toMatchObject({ weightsBytes: 15.54 * GiB, kvCacheTokens: 46611, cudaGraphBytes: 0.93 * GiB, activationBytes: null });
  expect(m.kvCacheBytes! / GiB).toBeCloseTo(2.84, 6);
});

test('the other wordings: the elapsed time in "Load weight end" (2025-10+), a dtype in "KV Cache is allocated", the static share from ServerArgs', () => {
  const m = parseSglangStartupLog(
    [
      'Load weight end. elapsed=8.01 s, type=Qwen3MoeForCausalLM, dtype=torch.bfloat16, avail mem=62.08 GB, mem usage=16.41 GB.',
      '[2026-06-08 07:20:53 TP0] KV Cache is allocated. dtype: torch.bfloat16, #tokens: 1106304, K size: 25.32 GB, V size: 25.32 GB',
      "server_args=ServerArgs(model_path='/m', mem_fraction_static=0.88, tp_size=1)",
    ].join('\n'),
  );
  expect(m).toMatchObject({ weightsBytes: 16.41 * GiB, kvCacheTokens: 1106304, gpuMemoryUtilization: 0.88 });
  expect(m.kvCacheBytes! / GiB).toBeCloseTo(50.64, 6);
  expect(parseSglangStartupLog(fixture('profiled-negative.log')).weightsBytes).toBe(166.59 * GiB);
  expect(parseSglangStartupLog('noise\n')).toMatchObject({ weightsBytes: null, kvCacheBytes: null, cudaGraphBytes: null });
});
