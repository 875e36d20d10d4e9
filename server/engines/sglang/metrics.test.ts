import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { parseSglangMetrics } from './metrics';

test("SGLang's documented /metrics page becomes Enclave's load", () => {
  const text = readFileSync(path.join(import.meta.dirname, 'fixtures', 'metrics.txt'), 'utf8');
  expect(parseSglangMetrics(text)).toEqual({ running: 162, waiting: 2826, kvCacheUsage: 0.28, promptTokensTotal: 8_128_902, generationTokensTotal: 7_557_572 });
});

test('per-rank samples (tp_rank labels) count each request once; the fill is averaged', () => {
  const text = ['sglang:num_running_reqs{tp_rank="0"} 4', 'sglang:num_running_reqs{tp_rank="1"} 4', 'sglang:token_usage{tp_rank="0"} 0.2', 'sglang:token_usage{tp_rank="1"} 0.4'].join('\n');
  expect(parseSglangMetrics(text)).toEqual({ running: 4, waiting: 0, kvCacheUsage: 0.30000000000000004 });
  expect(parseSglangMetrics('')).toEqual({ running: 0, waiting: 0 });
});
