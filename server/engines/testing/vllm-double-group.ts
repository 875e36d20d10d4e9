/**
 * The multi-node part of the vLLM TEST DOUBLE (vllm-double-main.ts): `vllm serve ... --nnodes N
 * --node-rank R --master-addr A --master-port P [--headless]`, vLLM's own multi-node launch. What it plays
 * of the real thing: the head (rank 0) opens the master port and does nothing else until every other rank
 * has joined; a worker dials the head (retrying while the head comes up, as torch.distributed does) and
 * serves no API; a group is all or nothing: when a joined worker's connection drops the head dies, and
 * when the head goes every worker dies. The wire between them is the double's own (one line per
 * message over loopback TCP), not torch's TCPStore protocol: what is under test is the agents' ordering
 * and failure handling, not NCCL.
 *
 * Environment: VLLM_DOUBLE_JOIN_TIMEOUT_MS (default 60000) bounds both waits.
 */
import net from 'node:net';

export interface GroupArgs {
  nodes: number;
  rank: number;
  masterAddr: string;
  masterPort: number;
  headless: boolean;
}

type Die = (lines: string, code?: number) => never;
type Log = (where: string, msg: string) => void;

const joinTimeoutMs = () => Number(process.env.VLLM_DOUBLE_JOIN_TIMEOUT_MS ?? 60_000);

/** The group flags as vLLM's argparse checks them; null for a one-host launch. */
export function parseGroup(flags: Map<string, string[]>, die: Die): GroupArgs | null {
  const int = (flag: string, fallback: number) => {
    const raw = flags.get(flag)?.[0] ?? String(fallback);
    if (!/^\d+$/.test(raw)) die(`vllm serve: error: argument ${flag}: invalid int value: '${raw}'`, 2);
    return Number(raw);
  };
  const nodes = int('--nnodes', 1);
  const headless = flags.has('--headless');
  if (nodes <= 1) {
    if (headless) die('ValueError: --headless requires --nnodes > 1 (a headless node serves no API and needs a head)');
    return null;
  }
  const rank = int('--node-rank', 0);
  if (rank >= nodes) die(`ValueError: node_rank (${rank}) must be less than nnodes (${nodes})`);
  if (rank > 0 && !headless) die(`ValueError: node_rank ${rank} > 0 must be started with --headless (only node 0 runs the API server)`);
  return { nodes, rank, masterAddr: flags.get('--master-addr')?.[0] ?? '127.0.0.1', masterPort: int('--master-port', 29501), headless };
}

/**
 * The head: listens on the master port, accepts each rank 1..N-1 once, and resolves when all have joined.
 * A joined rank that disconnects afterwards kills the head (exit 1), as a dead NCCL peer does vLLM's.
 */
export function awaitWorkers(g: GroupArgs, world: number, log: Log, die: Die): Promise<void> {
  const joined = new Set<number>();
  return new Promise<void>((resolve) => {
    const server = net.createServer((socket) => {
      let buffer = '';
      socket.setEncoding('utf8');
      socket.on('error', () => undefined);
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        const nl = buffer.indexOf('\n');
        if (nl < 0) return;
        const m = /^JOIN rank=(\d+) nnodes=(\d+) world=(\d+)$/.exec(buffer.slice(0, nl));
        if (!m) return void socket.end('ERR not a vLLM rank\n');
        const [rank, nodes, theirWorld] = [Number(m[1]), Number(m[2]), Number(m[3])];
        if (nodes !== g.nodes || theirWorld !== world) return void socket.end(`ERR rank ${rank} has nnodes=${nodes} world=${theirWorld}, the head nnodes=${g.nodes} world=${world}\n`);
        if (rank < 1 || rank >= g.nodes || joined.has(rank)) return void socket.end(`ERR rank ${rank} is not expected\n`);
        joined.add(rank);
        socket.write('OK\n');
        log('multiproc_executor.py:112', `node rank ${rank} joined from ${socket.remoteAddress} (${joined.size + 1}/${g.nodes} nodes)`);
        socket.on('close', () =>
          die(`(EngineCore_DP0 pid=${process.pid}) ERROR [multiproc_executor.py:154] Worker proc of node rank ${rank} died unexpectedly, shutting down executor.\nRuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}`),
        );
        if (joined.size === g.nodes - 1) resolve();
      });
    });
    server.once('error', (err) => die(`RuntimeError: The server socket has failed to listen on any local network address. port: ${g.masterPort}, useIpv6: false, code: -98, name: EADDRINUSE (${err.message})`));
    server.listen(g.masterPort, g.masterAddr, () => log('parallel_state.py:1064', `world_size=${world} rank=0 local_rank=0 distributed_init_method=tcp://${g.masterAddr}:${g.masterPort} backend=nccl; waiting for ${g.nodes - 1} more node(s)`));
    setTimeout(() => {
      if (joined.size < g.nodes - 1) die(`torch.distributed.DistStoreError: Timed out after ${Math.round(joinTimeoutMs() / 1000)} seconds waiting for clients. ${joined.size + 1}/${g.nodes} clients joined.`);
    }, joinTimeoutMs()).unref();
  });
}

/** A headless worker: dials the head until it answers, joins, then lives as long as the head does. */
export async function joinHead(g: GroupArgs, world: number, log: Log, die: Die): Promise<void> {
  const deadline = Date.now() + joinTimeoutMs();
  for (;;) {
    const outcome = await new Promise<'joined' | 'refused' | string>((resolve) => {
      const socket = net.connect({ host: g.masterAddr, port: g.masterPort });
      socket.setEncoding('utf8');
      let answered = false;
      socket.once('error', () => !answered && resolve('refused'));
      socket.once('connect', () => socket.write(`JOIN rank=${g.rank} nnodes=${g.nodes} world=${world}\n`));
      socket.on('data', (line: string) => {
        if (answered) return;
        answered = true;
        if (!line.startsWith('OK')) return resolve(line.trim());
        resolve('joined');
        socket.on('close', () => die(`RuntimeError: [node rank ${g.rank}] lost the connection to the master ${g.masterAddr}:${g.masterPort}; the head is gone, shutting down.`));
      });
      socket.once('close', () => !answered && resolve('refused'));
    });
    if (outcome === 'joined') {
      log('multiproc_executor.py:98', `headless node rank ${g.rank} joined the master at ${g.masterAddr}:${g.masterPort}`);
      return;
    }
    if (outcome !== 'refused') die(`RuntimeError: the master refused node rank ${g.rank}: ${outcome}`);
    if (Date.now() > deadline) die(`torch.distributed.DistNetworkError: The client socket has timed out after ${Math.round(joinTimeoutMs() / 1000)}s while trying to connect to (${g.masterAddr}, ${g.masterPort}).`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * vLLM on Ray (`--distributed-executor-backend ray`): attach to the cluster at RAY_ADDRESS and wait until
 * it holds the world's GPUs (vLLM's placement group), then live while every node does.
 */
export async function awaitRayCluster(world: number, log: Log, die: Die): Promise<void> {
  const address = process.env.RAY_ADDRESS;
  const m = address ? /^(.+):(\d+)$/.exec(address) : null;
  if (!m) die('ConnectionError: Could not find any running Ray instance. Please specify the one to connect to by setting `--address` flag or `RAY_ADDRESS` environment variable.');
  const deadline = Date.now() + joinTimeoutMs();
  for (;;) {
    const outcome = await new Promise<'ready' | 'refused'>((resolve) => {
      const socket = net.connect({ host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) });
      socket.setEncoding('utf8');
      let ready = false;
      socket.once('error', () => !ready && resolve('refused'));
      socket.once('connect', () => socket.write(`WAIT gpus=${world}\n`));
      socket.on('data', (line: string) => {
        if (line.startsWith('READY')) return (ready = true), resolve('ready');
        if (line.startsWith('LOST')) die('ray.exceptions.ActorDiedError: The actor died unexpectedly before finishing this task: its node was lost (RayWorkerWrapper).');
      });
      socket.once('close', () => (ready ? die('ray.exceptions.RaySystemError: the connection to the Ray cluster was lost.') : resolve('refused')));
    });
    if (outcome === 'ready') return log('ray_utils.py:300', `the Ray cluster at ${address} holds the ${world} GPU(s) of the placement group`);
    if (Date.now() > deadline) die(`ValueError: Cannot provide a placement group of ${world} GPUs within ${Math.round(joinTimeoutMs() / 1000)} seconds`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
