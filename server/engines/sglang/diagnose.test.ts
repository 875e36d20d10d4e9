import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { diagnoseSglangLog } from './diagnose';

const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, 'fixtures', name), 'utf8');

test.each([
  ['not-enough-memory.log', /no room for SGLang's KV cache within mem_fraction_static 0\.2\. Raise gpu_memory_utilization/],
  ['profiled-negative.log', /KV cache profile came out at -561981 tokens/],
  ['tp-not-divisible.log', /TP 3 does not divide the model's 32 .* \(1, 2, 4, 8, 16, 32\)/],
])('%s is explained', (file, expected) => {
  expect(diagnoseSglangLog(fixture(file))).toMatch(expected);
});

test("argparse's refusals, an SGLang too old for --config, and an unknown log", () => {
  expect(diagnoseSglangLog("launch_server.py: error: argument --quantization: invalid choice: 'int4' (choose from 'awq', 'fp8')")).toBe("SGLang does not accept 'int4' for --quantization.");
  expect(diagnoseSglangLog('launch_server.py: error: unrecognized arguments: --config /tmp/x.yaml')).toMatch(/--config, which carries the replica secret, needs SGLang 0\.5 or later/);
  expect(diagnoseSglangLog('The server is fired up and ready to roll!')).toBeNull();
});
