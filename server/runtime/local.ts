import { DEFAULT_BACKOFF, restartDelayMs, type BackoffPolicy } from './backoff';
import { spawnEngineProcess, type EngineCommand, type EngineProcess } from './engine-process';
import { llamaCppCommand, type LlamaCppSpec } from './llamacpp';

/**
 * The local runtime: engine processes on this machine, each supervised. A process that dies on its own is
 * restarted after an exponential backoff; one that keeps dying is marked failed and left alone.
 */
export type ReplicaSpec = LlamaCppSpec & { id: string };
export type ReplicaStatus = 'starting' | 'ready' | 'failed' | 'stopped';
export type ReplicaInfo = { id: string; url: string; port: number; pid: number };

export type StatusEvent = {
  id: string;
  status: ReplicaStatus;
  restarts: number;
  url?: string;
  port?: number;
  pid?: number;
  /** Why it failed; engine log lines never carry message content. */
  error?: string;
  logs?: string[];
  /** Set on a failure that will be retried. */
  restartInMs?: number;
};

/** The name the agent imports. */
export type ReplicaStatusEvent = StatusEvent;

export type LocalRuntimeOptions = {
  onStatus?: (event: StatusEvent) => void;
  backoff?: BackoffPolicy;
  /** Crashes in a row (without a stable run between them) before giving up. */
  maxConsecutiveFailures?: number;
  /** A run this long resets the crash count, so one crash a day never reaches the cap. */
  stableAfterMs?: number;
  stopGraceMs?: number;
  command?: (spec: ReplicaSpec) => EngineCommand;
};

type Replica = {
  spec: ReplicaSpec;
  status: ReplicaStatus;
  restarts: number;
  failuresInARow: number;
  process?: EngineProcess;
  readyAt?: number;
  launching?: Promise<unknown>;
  cancelLaunch?: AbortController;
  restartTimer?: NodeJS.Timeout;
  stopping: boolean;
};

export function createLocalRuntime(options: LocalRuntimeOptions = {}) {
  const replicas = new Map<string, Replica>();
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const maxFailures = options.maxConsecutiveFailures ?? 10;
  const stableAfterMs = options.stableAfterMs ?? 60_000;
  const graceMs = options.stopGraceMs ?? 5_000;
  const commandFor = options.command ?? llamaCppCommand;

  const emit = (replica: Replica, status: ReplicaStatus, extra: Partial<StatusEvent> = {}) => {
    replica.status = status;
    const current = replica.process;
    const event: StatusEvent = { id: replica.spec.id, status, restarts: replica.restarts, ...extra };
    if (current && status === 'ready') Object.assign(event, { url: current.url, port: current.port, pid: current.pid });
    try {
      options.onStatus?.(event);
    } catch (error) {
      // A broken listener must not take the supervisor down with it.
      process.stderr.write(`local runtime: status listener failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  };

  async function launch(replica: Replica): Promise<EngineProcess> {
    emit(replica, 'starting');
    const cancel = new AbortController();
    replica.cancelLaunch = cancel;
    const pending = spawnEngineProcess(commandFor(replica.spec), cancel.signal);
    replica.launching = pending.catch(() => undefined);
    try {
      const engine = await pending;
      if (replica.stopping) {
        await engine.stop(graceMs);
        throw new Error('stopped while starting');
      }
      replica.process = engine;
      replica.readyAt = Date.now();
      emit(replica, 'ready');
      void engine.exited.then((exit) => {
        if (replica.process !== engine || replica.stopping) return;
        replica.process = undefined;
        scheduleRestart(replica, `exited with code ${exit.code}, signal ${exit.signal}`, engine.logs.last(20));
      });
      return engine;
    } finally {
      replica.cancelLaunch = undefined;
      replica.launching = undefined;
    }
  }

  function scheduleRestart(replica: Replica, error: string, logs: string[]): void {
    if (replica.readyAt !== undefined && Date.now() - replica.readyAt >= stableAfterMs) replica.failuresInARow = 0;
    replica.readyAt = undefined;
    replica.failuresInARow++;
    if (replica.failuresInARow > maxFailures) {
      emit(replica, 'failed', { error: `${error}; gave up after ${maxFailures} restarts in a row`, logs });
      return;
    }
    const delay = restartDelayMs(replica.failuresInARow, backoff);
    emit(replica, 'failed', { error, logs, restartInMs: delay });
    replica.restartTimer = setTimeout(() => {
      replica.restartTimer = undefined;
      if (replica.stopping) return;
      replica.restarts++;
      launch(replica).catch((failure: unknown) => {
        if (replica.stopping) return;
        const message = failure instanceof Error ? failure.message : String(failure);
        scheduleRestart(replica, message.split('\n')[0]!, (failure as { logs?: string[] }).logs ?? []);
      });
    }, delay);
  }

  async function start(spec: ReplicaSpec): Promise<ReplicaInfo> {
    if (replicas.has(spec.id)) throw new Error(`replica ${spec.id} is already running`);
    const replica: Replica = { spec, status: 'starting', restarts: 0, failuresInARow: 0, stopping: false };
    replicas.set(spec.id, replica);
    try {
      const engine = await launch(replica);
      return { id: spec.id, url: engine.url, port: engine.port, pid: engine.pid };
    } catch (error) {
      // A first start that fails is the caller's to handle: report it and forget the replica.
      replicas.delete(spec.id);
      if (!replica.stopping) {
        emit(replica, 'failed', { error: error instanceof Error ? error.message.split('\n')[0] : String(error), logs: (error as { logs?: string[] }).logs });
      }
      throw error;
    }
  }

  async function stop(id: string): Promise<void> {
    const replica = replicas.get(id);
    if (!replica) return;
    replica.stopping = true;
    clearTimeout(replica.restartTimer);
    replica.cancelLaunch?.abort();
    await replica.launching;
    await replica.process?.stop(graceMs);
    replica.process = undefined;
    replicas.delete(id);
    emit(replica, 'stopped');
  }

  return {
    start,
    stop,
    /** Stops every replica (SIGTERM, then SIGKILL after the grace period); nothing is left running. */
    stopAll: () => Promise.all([...replicas.keys()].map((id) => stop(id))).then(() => undefined),
    list: () =>
      [...replicas.values()].map((r) => ({
        id: r.spec.id,
        name: r.spec.name,
        status: r.status,
        restarts: r.restarts,
        url: r.process?.url,
        port: r.process?.port,
        pid: r.process?.pid,
        logs: r.process?.logs.last(50) ?? [],
      })),
  };
}

export type LocalRuntime = ReturnType<typeof createLocalRuntime>;
