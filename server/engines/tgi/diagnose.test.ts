import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { diagnoseTgiLog } from './diagnose';

const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, 'fixtures', name), 'utf8');

test.each([
  ['warmup-prefill-oom.log', /warm-up ran out of GPU memory on a prefill of 4096 tokens .* --max-batch-prefill-tokens/],
  ['shard-size.log', /TP 3 does not divide a 50432-wide weight of this model; choose a TP that does \(1, 2, 4, 8, 16, 32, 64\)/],
  ['master-port-in-use.log', /Port 29500, which the shards use to find each other, was taken/],
  ['shard-signal.log', /killed by signal 4 while starting \(signal 4: this CPU lacks an instruction/],
  ['cuda-oom.log', /needed 222.00 MiB more, and GPU 0 \(39.39 GiB\) had only 217.94 MiB free/],
])('%s is explained', (file, expected) => {
  expect(diagnoseTgiLog(fixture(file))).toMatch(expected);
});

test("the launcher's own argument errors (clap's wording, as the double prints it) and an unknown log", () => {
  expect(diagnoseTgiLog("error: invalid value 'int4' for '--quantize <QUANTIZE>'\n  [possible values: awq, eetq]")).toBe("This TGI does not accept 'int4' for --quantize.");
  expect(diagnoseTgiLog("error: unexpected argument '--max-model-len' found")).toBe('This TGI does not know the argument --max-model-len; remove it from the extra arguments.');
  expect(diagnoseTgiLog('INFO text_generation_launcher: Connected')).toBeNull();
});
