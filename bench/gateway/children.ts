import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The benchmarks' server processes (child.ts speaks the other side): one per server, so its CPU time can be read. */
const here = path.dirname(fileURLToPath(import.meta.url));

export interface Child {
  url: string;
  pid: number;
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

/** BENCH_PROFILE_DIR=dir writes a V8 CPU profile of each server process there, for finding hot spots. */
const profileDir = process.env.BENCH_PROFILE_DIR;

export function startChild(file: string, args: string[], env: Record<string, string> = {}): Promise<Child> {
  const proc: ChildProcess = fork(path.join(here, file), args, {
    execArgv: ['--import', 'tsx', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`] : [])],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  proc.on('error', () => {}); // a child killed on purpose (bench:failover) has no channel left
  let nextId = 0;
  const waiting = new Map<number, (ms: number) => void>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start within 120 s`)), 120_000);
    proc.once('exit', (code) => reject(new Error(`${file} exited with ${code} before listening`)));
    proc.on('message', (msg: { event?: string; port?: number; id?: number; cpu?: NodeJS.CpuUsage }) => {
      if (msg.event === 'listening') {
        clearTimeout(timer);
        resolve({
          url: `http://127.0.0.1:${msg.port}`,
          pid: proc.pid!,
          cpuMs: () =>
            new Promise((done) => {
              const id = nextId++;
              waiting.set(id, done);
              proc.send({ id, cmd: 'cpu' });
            }),
          stop: () =>
            new Promise((done) => {
              if (proc.exitCode !== null || proc.signalCode !== null || !proc.connected) return done();
              const kill = setTimeout(() => proc.kill('SIGKILL'), 5_000);
              proc.once('exit', () => {
                clearTimeout(kill);
                done();
              });
              proc.send({ cmd: 'stop' });
            }),
        });
      } else if (msg.cpu && msg.id !== undefined) {
        waiting.get(msg.id)?.((msg.cpu.user + msg.cpu.system) / 1000);
        waiting.delete(msg.id);
      }
    });
  });
}
