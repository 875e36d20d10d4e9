import { expect, test } from 'vitest';
import { testLaunch } from '../testing/launch';
import { tgiCommand, TgiSpecError, tgiShardAddresses, tgiSpecProblems } from './command';

const launch = (spec: Record<string, unknown>, gpus = [0], over = {}) => testLaunch('tgi', spec, gpus, over);

test("every flag from the spec in TGI's spelling, the GPUs from the placement, the secret in API_KEY only", () => {
  const cmd = tgiCommand(launch({ tp: 2, quantization: 'awq', maxModelLen: 8192, gpuMemoryUtilization: 0.85 }, [2, 3]), 'text-generation-launcher');
  expect(cmd.file).toBe('text-generation-launcher');
  const { udsPath, masterPort } = tgiShardAddresses({ replicaId: 'r1', port: 41000 });
  expect(cmd.args).toEqual([
    '--model-id', '/models/Qwen2.5-7B-Instruct',
    '--hostname', '127.0.0.1',
    '--port', '41000',
    '--num-shard', '2',
    '--cuda-memory-fraction', '0.85',
    '--shard-uds-path', udsPath,
    '--master-port', String(masterPort),
    '--usage-stats', 'off',
    '--quantize', 'awq',
    '--max-total-tokens', '8192',
    '--max-input-tokens', '8191',
  ]);
  expect(cmd.env).toEqual({ CUDA_VISIBLE_DEVICES: '2,3', CUDA_DEVICE_ORDER: 'PCI_BUS_ID', API_KEY: 'enc-replica-secret-r1' });
  expect(cmd.args.join(' ')).not.toContain('enc-replica-secret');
});

test('optional flags are left out: auto dtype, no max length, int8 read from the checkpoint', () => {
  const cmd = tgiCommand(launch({ quantization: 'int8' }));
  for (const flag of ['--quantize', '--dtype', '--max-total-tokens', '--max-input-tokens']) expect(cmd.args).not.toContain(flag);
  expect(tgiCommand(launch({ dtype: 'bfloat16' })).args.join(' ')).toContain('--dtype bfloat16');
});

test('two replicas on one node get their own shard socket and master port (TGI defaults collide)', () => {
  const a = tgiShardAddresses({ replicaId: 'r1', port: 41000 });
  const b = tgiShardAddresses({ replicaId: 'r2', port: 41001 });
  expect(a.udsPath).not.toBe(b.udsPath);
  expect(a.masterPort).not.toBe(b.masterPort);
  for (const p of [a.masterPort, b.masterPort]) expect(p).toBeGreaterThanOrEqual(20_000), expect(p).toBeLessThan(30_000);
  // The same replica restarted on another HTTP port tries another master port too.
  expect(tgiShardAddresses({ replicaId: 'r1', port: 41002 }).masterPort).not.toBe(a.masterPort);
});

test('what TGI cannot run is refused in plain words, before any start', () => {
  expect(tgiSpecProblems(launch({}).spec)).toEqual([]);
  expect(tgiSpecProblems(launch({ quantization: 'q8_0' }).spec)[0]).toMatch(/GGUF .* use the llamacpp engine/);
  expect(tgiSpecProblems(launch({ dtype: 'float32' }).spec)[0]).toMatch(/float16 or bfloat16 only/);
  expect(tgiSpecProblems(launch({ dtype: 'float16', quantization: 'gptq' }).spec)[0]).toMatch(/--dtype together with --quantize/);
  expect(tgiSpecProblems(launch({ pp: 2 }).spec)[0]).toMatch(/no pipeline parallelism/);
  expect(tgiSpecProblems(launch({ loraAdapters: [{ name: 'sql', path: '/a' }] }).spec)[0]).toMatch(/use the vllm engine/);
  expect(tgiSpecProblems(launch({ extraArgs: ['--num-shard', '4'] }).spec)).toEqual(["extra argument '--num-shard' is set from the deployment spec; change the spec instead"]);
  expect(tgiSpecProblems(launch({ extraArgs: ['--api_key=x'] }).spec)[0]).toMatch(/'--api-key' is set from the deployment spec/);
  expect(() => tgiCommand(launch({ quantization: 'f16' }))).toThrow(TgiSpecError);
  expect(() => tgiCommand(launch({ tp: 2 }, [0]))).toThrow(/placement gave 1 GPU\(s\) but TP 2 needs 2/);
  expect(tgiCommand(launch({ extraArgs: ['--max-batch-prefill-tokens', '2048'] })).args.slice(-2)).toEqual(['--max-batch-prefill-tokens', '2048']);
});
