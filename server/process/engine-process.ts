import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { LogTail } from './log-tail';

/** How to launch an engine: a command whose stdout announces {"event":"listening","port":N,"pid":P}. */
export type EngineCommand = {
  file: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** Host the engine listens on, for the health check and the replica URL. */
  host: string;
  startTimeoutMs?: number;
};

export type ProcessExit = { code: number | null; signal: string | null };

/** A running engine process that answered its health check. */
export type EngineProcess = {
  url: string;
  port: number;
  pid: number;
  logs: LogTail;
  /** Settles once the process has exited, however it ended. */
  exited: Promise<ProcessExit>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<ProcessExit>;
};

export class EngineStartError extends Error {
  constructor(
    message: string,
    readonly logs: string[],
  ) {
    super(logs.length ? `${message}\n${logs.join('\n')}` : message);
  }
}

const DEFAULT_START_TIMEOUT_MS = 60_000;
const DEFAULT_GRACE_MS = 5_000;

/** Starts the command and resolves when its /health answers 200; a start that fails leaves no process behind. */
export async function spawnEngineProcess(command: EngineCommand, signal?: AbortSignal): Promise<EngineProcess> {
  const logs = new LogTail();
  const child: ResultPromise = execa(command.file, command.args, {
    cwd: command.cwd,
    env: command.env,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    detached: false,
    // The child dies with this process even if nobody calls stop().
    cleanup: true,
  });
  const exited: Promise<ProcessExit> = child.then((result) => ({
    code: result.exitCode ?? null,
    signal: result.signal ?? null,
  }));
  let gone = false;
  void exited.then(() => (gone = true));

  createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line));
  const listening = new Promise<number>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const port = parseListeningLine(line);
      if (port !== undefined) resolve(port);
      else logs.push(line);
    });
  });

  const stop = async (graceMs = DEFAULT_GRACE_MS): Promise<ProcessExit> => {
    if (!gone) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return exited;
  };

  const timeoutMs = command.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  // Ends the health polling whichever way the start goes.
  const polling = new AbortController();
  try {
    const port = await raceStart(listening, exited, deadline, signal, 'announce its port');
    const url = `http://${command.host.includes(':') ? `[${command.host}]` : command.host}:${port}`;
    await raceStart(waitForHealth(url, deadline, polling.signal), exited, deadline, signal, 'answer /health');
    return { url, port, pid: child.pid!, logs, exited, stop };
  } catch (error) {
    await stop(1_000);
    const reason = error instanceof Error ? error.message : String(error);
    throw new EngineStartError(`engine failed to start: ${reason}`, logs.last(20));
  } finally {
    polling.abort();
  }
}

export function parseListeningLine(line: string): number | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as { event?: unknown; port?: unknown };
    return parsed.event === 'listening' && typeof parsed.port === 'number' ? parsed.port : undefined;
  } catch {
    return undefined;
  }
}

async function raceStart<T>(step: Promise<T>, exited: Promise<ProcessExit>, deadline: number, signal: AbortSignal | undefined, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      step,
      exited.then((exit) => {
        throw new Error(`process exited (code ${exit.code}, signal ${exit.signal}) before it could ${what}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out waiting for it to ${what}`)), Math.max(0, deadline - Date.now()));
      }),
      new Promise<never>((_, reject) => {
        if (!signal) return;
        onAbort = () => reject(new Error('start cancelled'));
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

async function waitForHealth(url: string, deadline: number, signal: AbortSignal): Promise<void> {
  while (Date.now() < deadline && !signal.aborted) {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.any([signal, AbortSignal.timeout(2_000)]) });
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // Not accepting connections yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
