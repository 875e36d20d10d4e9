import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { parseTgiMetrics } from './metrics';

test("TGI's router metrics become Enclave's load: batch size runs, queue waits, token totals from the histogram sums", () => {
  const text = readFileSync(path.join(import.meta.dirname, 'fixtures', 'metrics.txt'), 'utf8');
  expect(parseTgiMetrics(text)).toEqual({ running: 3, waiting: 2, kvCacheUsage: 0.25, promptTokensTotal: 2120, generationTokensTotal: 3300 });
});

test('an empty or foreign page is an idle engine with no figures, not an error', () => {
  expect(parseTgiMetrics('')).toEqual({ running: 0, waiting: 0 });
  expect(parseTgiMetrics('vllm:num_requests_running{engine="0"} 4\n')).toEqual({ running: 0, waiting: 0 });
});
