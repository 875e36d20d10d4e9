import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { diagnoseVllmLog } from './diagnose';

const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, 'fixtures', name), 'utf8');

test.each([
  ['oom-load-model.log', /ran out of memory while starting: it needed 20.00 MiB more, and GPU 2 \(14.62 GiB\) had only 3.31 MiB free/],
  ['no-cache-blocks.log', /left no GPU memory for the KV cache\. Raise gpu_memory_utilization/],
  ['kv-cache-too-small-v0.log', /max_model_len 131072 is more than the 93760 tokens .* at most 93760/],
  ['kv-cache-too-small-v1.log', /max_model_len 8192 needs 2.63 GiB, but only 1.64 GiB .* At most max_model_len 5088 fits/],
  ['tp-attention-heads.log', /TP 3 does not divide the model's 32 attention heads; choose a TP that does \(1, 2, 4, 8, 16, 32\)/],
  ['too-few-gpus.log', /needs 2 GPUs \(TP x PP\) but the engine could see only 1/],
  ['invalid-repository.log', /found no model at '\/app\/hf_checkpoints\/marey-distilled-0100\/'/],
  ['quantization-unsupported-gpu.log', /cannot run awq weights: it needs compute capability 7.5, and the GPU has 7/],
])('%s is explained in plain words', (file, expected) => {
  expect(diagnoseVllmLog(fixture(file))).toMatch(expected);
});

test('argparse refusals and unknown lines', () => {
  expect(diagnoseVllmLog("vllm serve: error: argument --quantization/-q: invalid choice: 'int4' (choose from 'awq', 'gptq')")).toBe(
    "vLLM does not accept 'int4' for --quantization.",
  );
  expect(diagnoseVllmLog('vllm: error: unrecognized arguments: --frobnicate')).toMatch(/--frobnicate; remove them/);
  expect(diagnoseVllmLog('INFO 01-01 00:00:00 [api_server.py:1043] vLLM API server version 0.9.0\nKilled')).toBeNull();
  expect(diagnoseVllmLog('')).toBeNull();
});
