import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ApiProcess {
  base: string;
  pid: number;
  /** kill -9, and wait until it is gone. */
  kill(): Promise<void>;
}

/** Starts api-process.ts: the real API handler in a child process that a test can kill -9. */
export async function startApiProcess(env: { databaseUrl: string; masterKey: Buffer; gatewayUrl: string; replyLeaseMs: number }): Promise<ApiProcess> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./api-process.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...process.env,
      DATABASE_URL: env.databaseUrl,
      TEST_MASTER_KEY_HEX: env.masterKey.toString('hex'),
      TEST_GATEWAY_URL: env.gatewayUrl,
      ENCLAVE_REPLY_LEASE_MS: String(env.replyLeaseMs),
      LOG_LEVEL: 'error',
    },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the API process did not start within 60 s')), 60_000);
    child.once('message', (m: { base: string }) => {
      clearTimeout(timer);
      resolve(m.base);
    });
    void exited.then(() => reject(new Error(`the API process exited (${child.exitCode ?? child.signalCode}) before it listened`)));
  });
  return {
    base,
    pid: child.pid!,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
