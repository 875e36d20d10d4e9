import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { testLaunch } from '../testing/launch';
import { sglangCommand, SglangSpecError, sglangSpecProblems } from './command';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-sglang-cmd-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const launch = (spec: Record<string, unknown>, gpus = [0]) => testLaunch('sglang', spec, gpus);

test("every flag from the spec in SGLang's spelling; the secret only in a --config file its owner alone can read", () => {
  const cmd = sglangCommand(launch({ tp: 2, quantization: 'int8', maxModelLen: 8192, gpuMemoryUtilization: 0.85, dtype: 'bfloat16' }, [4, 5]), 'python3', path.join(dir, 'conf'));
  expect(cmd.file).toBe('python3');
  const config = path.join(dir, 'conf', 'r1.yaml');
  expect(cmd.args).toEqual([
    '-m', 'sglang.launch_server',
    '--model-path', '/models/Qwen2.5-7B-Instruct',
    '--host', '127.0.0.1',
    '--port', '41000',
    '--served-model-name', 'qwen-7b',
    '--tp-size', '2',
    '--dtype', 'bfloat16',
    '--mem-fraction-static', '0.85',
    '--enable-metrics',
    '--config', config,
    '--quantization', 'w8a8_int8',
    '--context-length', '8192',
  ]);
  expect(cmd.env).toEqual({ CUDA_VISIBLE_DEVICES: '4,5', CUDA_DEVICE_ORDER: 'PCI_BUS_ID' });
  expect(cmd.args.join(' ')).not.toContain('enc-replica-secret');
  expect(fs.readFileSync(config, 'utf8')).toBe('api-key: "enc-replica-secret-r1"\n');
  expect(fs.statSync(config).mode & 0o777).toBe(0o600);
  expect(fs.statSync(path.dirname(config)).mode & 0o777).toBe(0o700);
});

test('what SGLang cannot run here is refused in plain words, before any start', () => {
  expect(sglangSpecProblems(launch({}).spec)).toEqual([]);
  expect(sglangSpecProblems(launch({ quantization: 'q8_0' }).spec)[0]).toMatch(/GGUF .* llamacpp/);
  expect(sglangSpecProblems(launch({ pp: 2 }).spec)[0]).toMatch(/use pp 1/);
  expect(sglangSpecProblems(launch({ extraArgs: ['--tp', '4', '--api-key=x', '--chunked-prefill-size', '4096'] }).spec)).toEqual([
    "extra argument '--tp' is set from the deployment spec; change the spec instead",
    "extra argument '--api-key' is set from the deployment spec; change the spec instead",
  ]);
  expect(() => sglangCommand(launch({ quantization: 'f16' }), 'python3', dir)).toThrow(SglangSpecError);
  expect(() => sglangCommand(launch({ tp: 4 }, [0, 1]), 'python3', dir)).toThrow(/placement gave 2 GPU\(s\) but TP 4 needs 4/);
});
