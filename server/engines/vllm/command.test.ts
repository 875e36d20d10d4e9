import { expect, test } from 'vitest';
import { deploymentSpecSchema } from '../deployment-spec';
import type { LaunchRequest } from '../types';
import { vllmCommand, VllmSpecError, vllmSpecProblems } from './command';

function launch(spec: Record<string, unknown>, gpuIndices = [0], over: Partial<LaunchRequest> = {}): LaunchRequest {
  return {
    deploymentId: 'd1',
    replicaId: 'r1',
    servedName: 'qwen-7b',
    modelLocation: '/models/Qwen2.5-7B-Instruct',
    spec: deploymentSpecSchema.parse({ engine: 'vllm', ...spec }),
    gpuIndices,
    host: '127.0.0.1',
    port: 41000,
    apiKey: 'enc-replica-secret-r1',
    ...over,
  };
}

test('every flag from the spec, in vLLM spelling, and CUDA_VISIBLE_DEVICES from the placement', () => {
  const cmd = vllmCommand(launch({ tp: 2, dtype: 'bfloat16', quantization: 'awq', maxModelLen: 8192, gpuMemoryUtilization: 0.85 }, [3, 1]), 'vllm');
  expect(cmd.file).toBe('vllm');
  expect(cmd.args).toEqual([
    'serve', '/models/Qwen2.5-7B-Instruct',
    '--host', '127.0.0.1',
    '--port', '41000',
    '--served-model-name', 'qwen-7b',
    '--tensor-parallel-size', '2',
    '--pipeline-parallel-size', '1',
    '--dtype', 'bfloat16',
    '--quantization', 'awq',
    '--max-model-len', '8192',
    '--gpu-memory-utilization', '0.85',
  ]);
  // The replica's secret goes in the environment, where only the engine's owner can read it, never in argv.
  expect(cmd.env).toEqual({ CUDA_VISIBLE_DEVICES: '3,1', CUDA_DEVICE_ORDER: 'PCI_BUS_ID', VLLM_API_KEY: 'enc-replica-secret-r1' });
  expect(cmd.args.join(' ')).not.toContain('enc-replica-secret-r1');
});

test('LoRA adapters become --enable-lora --lora-modules name=path ... --max-loras', () => {
  const cmd = vllmCommand(launch({ loraAdapters: [{ name: 'sql', path: '/a/sql' }, { name: 'legal', path: '/a/legal' }] }), 'vllm');
  const i = cmd.args.indexOf('--enable-lora');
  expect(cmd.args.slice(i)).toEqual(['--enable-lora', '--lora-modules', 'sql=/a/sql', 'legal=/a/legal', '--max-loras', '2']);
});

test('optional flags are left out; int8 lets vLLM read the method from the checkpoint', () => {
  const cmd = vllmCommand(launch({ quantization: 'int8' }), 'vllm');
  for (const flag of ['--quantization', '--max-model-len', '--enable-lora']) expect(cmd.args).not.toContain(flag);
  expect(cmd.args).toContain('--gpu-memory-utilization');
});

test('extra arguments are appended; flags the spec owns are refused, in any spelling', () => {
  const ok = vllmCommand(launch({ extraArgs: ['--enforce-eager', '--max-num-seqs', '64', '--kv-cache-dtype=fp8'] }), 'vllm');
  expect(ok.args.slice(-4)).toEqual(['--enforce-eager', '--max-num-seqs', '64', '--kv-cache-dtype=fp8']);

  for (const extra of [['--port', '9'], ['--port=9'], ['--tensor_parallel_size', '4'], ['-tp', '4'], ['--api-key', 'x'], ['--lora-modules', 'a=b']])
    expect(() => vllmCommand(launch({ extraArgs: extra }), 'vllm'), extra.join(' ')).toThrow(VllmSpecError);
  expect(vllmSpecProblems(launch({ extraArgs: ['--port', '9'] }).spec)).toEqual([
    "extra argument '--port' is set from the deployment spec; change the spec instead",
  ]);
  expect(vllmSpecProblems(launch({ extraArgs: ['stray'] }).spec)[0]).toMatch(/not a flag/);
  expect(vllmSpecProblems(launch({ extraArgs: ['--x=1', 'stray'] }).spec)[0]).toMatch(/not a flag/);
  expect(vllmSpecProblems(launch({ extraArgs: ['--bad flag'] }).spec)[0]).toMatch(/well-formed/);
});

test('GGUF quantizations and a placement of the wrong size are explained, not launched', () => {
  expect(() => vllmCommand(launch({ quantization: 'q8_0' }), 'vllm')).toThrow(/GGUF .* llamacpp engine/);
  expect(() => vllmCommand(launch({ tp: 4 }, [0, 1]), 'vllm')).toThrow(/2 GPU\(s\) but TP 4 x PP 1 needs 4/);
});

test('ENCLAVE_VLLM_BIN chooses the executable', () => {
  const before = process.env.ENCLAVE_VLLM_BIN;
  process.env.ENCLAVE_VLLM_BIN = '/opt/vllm/bin/vllm';
  try {
    expect(vllmCommand(launch({})).file).toBe('/opt/vllm/bin/vllm');
  } finally {
    if (before === undefined) delete process.env.ENCLAVE_VLLM_BIN;
    else process.env.ENCLAVE_VLLM_BIN = before;
  }
});
