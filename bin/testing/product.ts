import { spawn, type ChildProcess } from 'node:child_process';
import { until } from '../../server/testing/until';
import { ENCLAVE_BIN } from './cli';

export interface RunningProduct {
  pid: number;
  output(): string;
  /** kill -9 of its whole process group, as a power cut or the OOM killer of a container would; waits until it is gone. */
  killGroup(): Promise<void>;
  /** SIGTERM and the ordered shutdown; its exit code. */
  stop(): Promise<number | null>;
}

/**
 * `enclave ROLE` as an operator starts it, in a process group of its own (so a test can kill the whole
 * group), resolving once it prints its ready line.
 */
export async function startProduct(env: Record<string, string>, role = 'start', timeoutMs = 360_000): Promise<RunningProduct> {
  const child: ChildProcess = spawn(process.execPath, [ENCLAVE_BIN, role], { env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = async () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`enclave ${role} exited before it was ready:\n${output.slice(-4000)}`);
    return /Enclave is ready on|Enclave .* is running/.test(output);
  };
  await until(`enclave ${role} to be ready`, ready, timeoutMs, 200).catch((e: Error) => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid!, 'SIGKILL');
      throw new Error(`enclave ${role} was not ready within ${timeoutMs / 1000} s:\n${output.slice(-4000)}`);
    }
    throw e;
  });
  return {
    pid: child.pid!,
    output: () => output,
    async killGroup() {
      process.kill(-child.pid!, 'SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
  };
}
