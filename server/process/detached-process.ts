import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ProcessExit } from './engine-process';

/**
 * An engine process that outlives the agent that started it: spawned detached (its own process group),
 * stdout and stderr appended to a log file, so an agent crash or upgrade leaves the model serving and
 * the next agent can adopt it by pid. Exit codes are known only for our own children; an adopted
 * process is watched by polling its pid.
 */
export interface DetachedProcess {
  pid: number;
  logPath: string;
  /** Whether this agent spawned it (exit code known) or adopted it (exit seen by polling). */
  adopted: boolean;
  exited: Promise<ProcessExit>;
  alive(): boolean;
  /** SIGTERM to its process group, SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
  /** Stop watching (the process keeps running). */
  release(): void;
}

export interface DetachedCommand {
  file: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

/** Enclave's own settings (master key, database URL, join token) never reach an engine's environment. */
function engineEnvironment(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ENCLAVE_') && k !== 'DATABASE_URL' && k !== 'REDIS_URL'));
  return { ...base, ...extra };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process's command line (Linux /proc), or null where it cannot be read. */
export function commandLineOf(pid: number): string[] | null {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

/**
 * Whether `pid` is alive and still the process we started: one of its arguments names `marker` (a job
 * id on its command line). A recycled pid belongs to some other program: never adopt or signal it.
 */
export function isProcessOf(pid: number, marker: string): boolean {
  return isAlive(pid) && (commandLineOf(pid) ?? []).some((arg) => arg.includes(marker));
}

/** The last lines of a log file, reading at most its final 64 KiB. */
export function readLogTail(logPath: string, maxLines = 40): string[] {
  try {
    const fd = fs.openSync(logPath, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const length = Math.min(size, 64 * 1024);
      const buffer = Buffer.alloc(length);
      fs.readSync(fd, buffer, 0, length, size - length);
      return buffer.toString('utf8').split('\n').filter((l) => l.trim()).slice(-maxLines);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return [];
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

function stopper(pid: number, exited: Promise<unknown>) {
  return async (graceMs = 5_000) => {
    if (!isAlive(pid)) return;
    signalGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  };
}

export function spawnDetached(command: DetachedCommand, logPath: string): DetachedProcess {
  fs.mkdirSync(path.dirname(logPath), { recursive: true });
  const out = fs.openSync(logPath, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(command.file, command.args, { cwd: command.cwd, env: engineEnvironment(command.env) as NodeJS.ProcessEnv, detached: true, stdio: ['ignore', out, out] });
  } finally {
    fs.closeSync(out);
  }
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  // The agent's own exit must not wait for (or take down) the engine.
  child.unref();
  if (!child.pid) throw new Error(`could not start ${command.file}`);
  const pid = child.pid;
  return { pid, logPath, adopted: false, exited, alive: () => isAlive(pid), stop: stopper(pid, exited), release: () => child.removeAllListeners('exit') };
}

/**
 * Alive and not a zombie: a process that has exited but whose parent (this process, when an earlier
 * agent in it started the engine) has not reaped it yet still answers kill(pid, 0).
 */
export function isRunning(pid: number): boolean {
  return isAlive(pid) && !isZombie(pid);
}

/** Watches a process this agent did not start (its parent may be gone), polling its pid. */
export function adoptProcess(pid: number, logPath: string, pollMs = 500): DetachedProcess {
  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise<ProcessExit>((resolve) => {
    const poll = () => {
      if (!isRunning(pid)) return resolve({ code: null, signal: null });
      timer = setTimeout(poll, pollMs);
      timer.unref();
    };
    poll();
  });
  return { pid, logPath, adopted: true, exited, alive: () => isRunning(pid), stop: stopper(pid, exited), release: () => clearTimeout(timer) };
}

/** A dead child not yet reaped by its parent still answers kill(pid, 0). */
function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** A process already gone when we looked (after a restart): its log is read to the end, then it counts as exited. */
export function goneProcess(pid: number, logPath: string): DetachedProcess {
  return { pid, logPath, adopted: true, exited: Promise.resolve({ code: null, signal: null }), alive: () => false, stop: async () => {}, release: () => {} };
}
