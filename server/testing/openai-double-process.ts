import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { OpenAIDoubleOptions, RecordedRequest } from './openai-double';

export interface OpenAIDoubleProcess {
  url: string;
  /** The completion requests it recorded, token write times included. */
  requests(): Promise<RecordedRequest[]>;
  clear(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The double in its own process, so its timers share neither an event loop nor a core's turn with the
 * client under test (a load generator whose timing is checked against the double's stamps).
 */
export async function startOpenAIDoubleProcess(options: Omit<OpenAIDoubleOptions, 'token' | 'loaded'>): Promise<OpenAIDoubleProcess> {
  const child = fork(fileURLToPath(new URL('./openai-double-main.ts', import.meta.url)), [JSON.stringify(options)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the OpenAI double did not start within 30 s')), 30_000);
    child.once('message', (m: { port: number }) => {
      clearTimeout(timer);
      resolve(m.port);
    });
    child.once('exit', (code) => reject(new Error(`the OpenAI double exited with ${code}`)));
  });
  let ids = 0;
  const ask = (cmd: 'requests' | 'clear') =>
    new Promise<RecordedRequest[] | undefined>((resolve) => {
      const id = ++ids;
      const onMessage = (m: { id?: number; requests?: RecordedRequest[] }) => {
        if (m.id !== id) return;
        child.off('message', onMessage);
        resolve(m.requests);
      };
      child.on('message', onMessage);
      child.send({ id, cmd });
    });
  return {
    url: `http://127.0.0.1:${port}`,
    requests: async () => (await ask('requests'))!,
    clear: async () => void (await ask('clear')),
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
