/**
 * A TEST DOUBLE for `ray start --block`, as a multi-node vLLM replica uses it (server/engines/vllm/
 * multinode.ts): `--head --port P --node-ip-address A --num-gpus G` keeps a cluster's membership on
 * A:P; `--address A:P --num-gpus G` joins it and lives as long as the head does. A client (the vllm
 * double with `--distributed-executor-backend ray`) asks the head to wait for N GPUs and is told when a
 * node is lost, as Ray kills the actors of a dead node. The wire is the double's own (one line per
 * message over TCP), not Ray's GCS protocol. VLLM_DOUBLE_JOIN_TIMEOUT_MS bounds a worker's wait for its head.
 */
import net from 'node:net';
import { die, parseFlags } from './engine-double';

const stamp = () => new Date().toISOString().replace('T', ' ').slice(0, 23);
const log = (msg: string) => process.stdout.write(`${stamp()}\tINFO scripts.py -- ${msg}\n`);

const [command, ...rest] = process.argv.slice(2);
if (command !== 'start') die(`Usage: ray [OPTIONS] COMMAND [ARGS]...\nError: No such command '${command ?? ''}'.`, 2);
const flags = parseFlags(rest, (arg) => die(`Error: Got unexpected extra argument (${arg})`, 2));
const one = (flag: string) => flags.get(flag)?.[0];
if (!flags.has('--block')) die('ray double: only `ray start --block` is played (the agent supervises the process)', 2);
const visible = (process.env.CUDA_VISIBLE_DEVICES ?? '').split(',').filter(Boolean).length;
const gpus = Number(one('--num-gpus') ?? visible);
if (!Number.isInteger(gpus) || gpus > visible) die(`ValueError: --num-gpus ${one('--num-gpus')} exceeds the ${visible} GPU(s) in CUDA_VISIBLE_DEVICES`);
const ip = one('--node-ip-address') ?? '127.0.0.1';
process.on('SIGTERM', () => process.exit(0));

if (flags.has('--head')) {
  const port = Number(one('--port') ?? 6379);
  const nodes = new Map<net.Socket, number>([[null as unknown as net.Socket, gpus]]);
  const waiters = new Set<{ socket: net.Socket; want: number; ready: boolean }>();
  const total = () => [...nodes.values()].reduce((a, b) => a + b, 0);
  const settle = () => {
    for (const w of waiters) if (!w.ready && total() >= w.want) (w.ready = true), w.socket.write('READY\n');
  };
  const server = net.createServer((socket) => {
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.once('data', (line: string) => {
      const node = /^NODE gpus=(\d+)/.exec(line);
      const wait = /^WAIT gpus=(\d+)/.exec(line);
      if (node) {
        nodes.set(socket, Number(node[1]));
        socket.write('OK\n');
        log(`node ${socket.remoteAddress} joined with ${node[1]} GPU(s); the cluster has ${total()}`);
        socket.on('close', () => {
          nodes.delete(socket);
          log(`node ${socket.remoteAddress} is dead; its actors are lost`);
          for (const w of waiters) w.socket.end('LOST\n');
        });
        settle();
      } else if (wait) {
        const w = { socket, want: Number(wait[1]), ready: false };
        waiters.add(w);
        socket.on('close', () => waiters.delete(w));
        settle();
      } else socket.end('ERR\n');
    });
  });
  server.once('error', (e) => die(`ConnectionError: ray head could not bind ${ip}:${port}: ${e.message}`));
  server.listen(port, ip, () => log(`Ray runtime started. GCS at ${ip}:${port} with ${gpus} GPU(s)`));
} else {
  const address = one('--address');
  const m = address ? /^(.+):(\d+)$/.exec(address) : null;
  if (!m) die('ValueError: ray start needs --head or --address=<head>:<port>', 2);
  const [host, port] = [m[1]!.replace(/^\[|\]$/g, ''), Number(m[2])];
  const deadline = Date.now() + Number(process.env.VLLM_DOUBLE_JOIN_TIMEOUT_MS ?? 60_000);
  const dial = () => {
    const socket = net.connect({ host, port });
    socket.setEncoding('utf8');
    let joined = false;
    socket.once('connect', () => socket.write(`NODE gpus=${gpus}\n`));
    socket.on('data', () => {
      joined = true;
      log(`Ray runtime started on ${ip}, joined ${host}:${port} with ${gpus} GPU(s)`);
    });
    socket.once('error', () => undefined);
    socket.once('close', () => {
      if (joined) die(`raylet: the connection to the GCS at ${host}:${port} was lost; the head is gone.`);
      if (Date.now() > deadline) die(`ConnectionError: could not reach the GCS at ${host}:${port}`);
      setTimeout(dial, 100);
    });
  };
  dial();
}
