import { placedGpuEnv } from '../gpu-env';
import { ENGINE_API_KEY_ENV } from '../replica-secret';
import type { EngineCommand, GroupLaunch, LaunchRequest } from '../types';

/** Flags the group's placement owns: an extra argument may not move a host to another rank or head. */
export const GROUP_FLAGS = ['--nnodes', '--node-rank', '--master-addr', '--master-port', '--headless'];

/**
 * The Ray head and `vllm serve` in one supervised process: Ray's head runs in the background (its GCS on
 * the master port, this host's GPUs as its resources), vLLM attaches to it through RAY_ADDRESS and waits
 * for the workers' GPUs to join before it serves. When vLLM ends, the Ray head goes with it: a group is
 * never half alive. Positional: $1 ray, $2 port, $3 this host's address, $4 GPUs, then the vllm command.
 */
const RAY_HEAD_SCRIPT = [
  'ray="$1"; port="$2"; ip="$3"; gpus="$4"; shift 4',
  '"$ray" start --block --head --port="$port" --node-ip-address="$ip" --num-gpus="$gpus" --disable-usage-stats &',
  'ray_pid=$!',
  '"$@"',
  'code=$?',
  'kill "$ray_pid" 2>/dev/null',
  'exit $code',
].join('\n');

export interface GroupBins {
  vllm: string;
  ray: string;
  /** NCCL_SOCKET_IFNAME/GLOO_SOCKET_IFNAME: the interface the hosts reach each other on, when not the default route's. */
  socketIfname?: string;
}

/**
 * One host's command of a multi-node vLLM replica. `engineArgs` are the model's settings, the same on
 * every host (vLLM checks that the ranks agree). Only the head (rank 0) serves the API, listens on the
 * replica's port and holds the replica's secret; a worker has no API to protect, so it never sees it.
 */
export function vllmGroupCommand(launch: LaunchRequest, group: GroupLaunch, engineArgs: string[], bins: GroupBins): EngineCommand {
  const head = group.rank === 0;
  const env: Record<string, string> = {
    ...placedGpuEnv(launch.gpuIndices),
    // The address vLLM (and Ray) advertise to the other ranks: the one this agent's engines use.
    VLLM_HOST_IP: launch.host,
    ...(bins.socketIfname ? { NCCL_SOCKET_IFNAME: bins.socketIfname, GLOO_SOCKET_IFNAME: bins.socketIfname } : {}),
    ...(head ? { [ENGINE_API_KEY_ENV]: launch.apiKey } : {}),
  };
  const api = ['--host', launch.host, '--port', String(launch.port)];
  const master = `${group.masterAddr.includes(':') ? `[${group.masterAddr}]` : group.masterAddr}:${group.masterPort}`;
  if (group.mode === 'ray') {
    const gpus = String(launch.gpuIndices.length);
    if (!head) return { file: bins.ray, args: ['start', '--block', `--address=${master}`, `--node-ip-address=${launch.host}`, `--num-gpus=${gpus}`, '--disable-usage-stats'], env };
    return {
      file: '/bin/sh',
      args: ['-c', RAY_HEAD_SCRIPT, 'enclave-ray-head', bins.ray, String(group.masterPort), group.masterAddr, gpus, bins.vllm, 'serve', launch.modelLocation, ...api, ...engineArgs, '--distributed-executor-backend', 'ray'],
      env: { ...env, RAY_ADDRESS: master },
    };
  }
  const rank = ['--distributed-executor-backend', 'mp', '--nnodes', String(group.nodes), '--node-rank', String(group.rank), '--master-addr', group.masterAddr, '--master-port', String(group.masterPort)];
  return { file: bins.vllm, args: ['serve', launch.modelLocation, ...(head ? api : []), ...engineArgs, ...rank, ...(head ? [] : ['--headless'])], env };
}

/** Where a group's members meet its head, as the replica row keeps it: 'mp://host:port' or 'ray://host:port'. */
export function formatRendezvous(mode: GroupLaunch['mode'], host: string, port: number): string {
  return `${mode}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function parseRendezvous(value: string): { mode: GroupLaunch['mode']; masterAddr: string; masterPort: number } | null {
  const m = /^(mp|ray):\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})$/.exec(value);
  if (!m) return null;
  return { mode: m[1] as GroupLaunch['mode'], masterAddr: m[2]!.replace(/^\[|\]$/g, ''), masterPort: Number(m[3]) };
}
