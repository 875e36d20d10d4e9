import { expect, test } from 'vitest';
import { testLaunch } from '../testing/launch';
import type { GroupLaunch } from '../types';
import { vllmCommand, VllmSpecError, vllmSpecProblems } from './command';
import { deploymentSpecSchema } from '../deployment-spec';
import { formatRendezvous, parseRendezvous } from './multinode';

const SPEC = { tp: 2, pp: 2, dtype: 'bfloat16', maxModelLen: 8192 };
const MODEL_ARGS = ['--served-model-name', 'qwen-7b', '--tensor-parallel-size', '2', '--pipeline-parallel-size', '2', '--dtype', 'bfloat16', '--max-model-len', '8192', '--gpu-memory-utilization', '0.9'];
const group = (rank: number, mode: GroupLaunch['mode'] = 'mp'): GroupLaunch => ({ mode, nodes: 2, rank, masterAddr: '10.0.0.1', masterPort: 29555 });
const GPU_ENV = (gpus: string) => ({ CUDA_VISIBLE_DEVICES: gpus, CUDA_DEVICE_ORDER: 'PCI_BUS_ID' });

test("vLLM's own multi-node launch: the head serves the API on its GPUs, holding the replica's secret", () => {
  const cmd = vllmCommand(testLaunch('vllm', SPEC, [3, 1], { host: '10.0.0.1', group: group(0) }), 'vllm');
  expect(cmd.file).toBe('vllm');
  expect(cmd.args).toEqual([
    'serve', '/models/Qwen2.5-7B-Instruct', '--host', '10.0.0.1', '--port', '41000', ...MODEL_ARGS,
    '--distributed-executor-backend', 'mp', '--nnodes', '2', '--node-rank', '0', '--master-addr', '10.0.0.1', '--master-port', '29555',
  ]);
  expect(cmd.env).toEqual({ ...GPU_ENV('3,1'), VLLM_HOST_IP: '10.0.0.1', VLLM_API_KEY: 'enc-replica-secret-r1' });
});

test('a worker is headless: the same model settings, its own rank and GPUs, no API, no port, no secret', () => {
  const cmd = vllmCommand(testLaunch('vllm', SPEC, [0, 2], { host: '10.0.0.2', apiKey: '', group: group(1) }), 'vllm');
  expect(cmd.args).toEqual([
    'serve', '/models/Qwen2.5-7B-Instruct', ...MODEL_ARGS,
    '--distributed-executor-backend', 'mp', '--nnodes', '2', '--node-rank', '1', '--master-addr', '10.0.0.1', '--master-port', '29555', '--headless',
  ]);
  expect(cmd.env).toEqual({ ...GPU_ENV('0,2'), VLLM_HOST_IP: '10.0.0.2' });
  expect(cmd.args).not.toContain('--host');
});

test('the interface NCCL and Gloo use between hosts comes from ENCLAVE_VLLM_SOCKET_IFNAME', () => {
  process.env.ENCLAVE_VLLM_SOCKET_IFNAME = 'eth1';
  try {
    const cmd = vllmCommand(testLaunch('vllm', SPEC, [0, 1], { apiKey: '', group: group(1) }), 'vllm');
    expect(cmd.env).toMatchObject({ NCCL_SOCKET_IFNAME: 'eth1', GLOO_SOCKET_IFNAME: 'eth1' });
  } finally {
    delete process.env.ENCLAVE_VLLM_SOCKET_IFNAME;
  }
});

test('Ray: the head runs `ray start --head` and `vllm serve --distributed-executor-backend ray` as one process; a worker joins with `ray start --address`', () => {
  const head = vllmCommand(testLaunch('vllm', SPEC, [0, 1], { host: '10.0.0.1', group: group(0, 'ray') }), '/opt/vllm/bin/vllm');
  expect(head.file).toBe('/bin/sh');
  expect(head.args[0]).toBe('-c');
  expect(head.args[1]).toContain('"$ray" start --block --head --port="$port" --node-ip-address="$ip" --num-gpus="$gpus"');
  expect(head.args.slice(2)).toEqual([
    'enclave-ray-head', 'ray', '29555', '10.0.0.1', '2',
    '/opt/vllm/bin/vllm', 'serve', '/models/Qwen2.5-7B-Instruct', '--host', '10.0.0.1', '--port', '41000', ...MODEL_ARGS, '--distributed-executor-backend', 'ray',
  ]);
  expect(head.env).toEqual({ ...GPU_ENV('0,1'), VLLM_HOST_IP: '10.0.0.1', VLLM_API_KEY: 'enc-replica-secret-r1', RAY_ADDRESS: '10.0.0.1:29555' });

  const worker = vllmCommand(testLaunch('vllm', SPEC, [4, 5], { host: '10.0.0.2', apiKey: '', group: group(1, 'ray') }), 'vllm');
  expect(worker).toEqual({
    file: 'ray',
    args: ['start', '--block', '--address=10.0.0.1:29555', '--node-ip-address=10.0.0.2', '--num-gpus=2', '--disable-usage-stats'],
    env: { ...GPU_ENV('4,5'), VLLM_HOST_IP: '10.0.0.2' },
  });
});

test('each host gets TP GPUs; a group the size of another PP, or flags that would move a rank, are refused', () => {
  expect(() => vllmCommand(testLaunch('vllm', SPEC, [0, 1, 2, 3], { group: group(0) }), 'vllm')).toThrow(/gave 4 GPU\(s\) but TP 2 x PP 2 needs 2 on each host/);
  expect(() => vllmCommand(testLaunch('vllm', { ...SPEC, pp: 3 }, [0, 1], { group: group(0) }), 'vllm')).toThrow(VllmSpecError);
  const spec = (extraArgs: string[]) => deploymentSpecSchema.parse({ engine: 'vllm', ...SPEC, extraArgs });
  expect(vllmSpecProblems(spec(['--node-rank', '1']))).toEqual(["extra argument '--node-rank' is set from the deployment spec; change the spec instead"]);
  expect(vllmSpecProblems(spec(['--distributed-executor-backend=ray']))[0]).toMatch(/chosen by the multi-node launch \(ENCLAVE_VLLM_MULTINODE\)/);
  expect(vllmSpecProblems(deploymentSpecSchema.parse({ engine: 'vllm', tp: 2, extraArgs: ['--distributed-executor-backend', 'ray'] }))).toEqual([]);
});

test('rendezvous addresses round-trip, IPv6 included; anything else is unreadable', () => {
  expect(parseRendezvous(formatRendezvous('mp', '10.0.0.1', 29555))).toEqual({ mode: 'mp', masterAddr: '10.0.0.1', masterPort: 29555 });
  expect(parseRendezvous(formatRendezvous('ray', 'fd00::1', 6379))).toEqual({ mode: 'ray', masterAddr: 'fd00::1', masterPort: 6379 });
  for (const bad of ['tcp://h:1', 'mp://h', 'mp://h:1/x', '']) expect(parseRendezvous(bad)).toBeNull();
});
