import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TimedDoubleOptions } from './timed-engine-double';

/**
 * The timed double in its own process, so its timers do not share an event loop (or a core's turn)
 * with the load generator under test.
 */
export async function startTimedDoubleProcess(opts: TimedDoubleOptions): Promise<{ url: string; stamps(): Promise<Record<string, number[]>>; clearStamps(): Promise<void>; close(): Promise<void> }> {
  const child = fork(fileURLToPath(new URL('./timed-double-main.ts', import.meta.url)), [String(opts.firstTokenMs), String(opts.interTokenMs), String(opts.tokens)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed double did not start within 30 s')), 30_000);
    child.once('message', (m: { port: number }) => {
      clearTimeout(timer);
      resolve(m.port);
    });
    child.once('exit', (code) => reject(new Error(`timed double exited with ${code}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    stamps: async () => (await (await fetch(`${url}/stamps`)).json()) as Record<string, number[]>,
    clearStamps: async () => void (await fetch(`${url}/stamps`, { method: 'DELETE' })),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
