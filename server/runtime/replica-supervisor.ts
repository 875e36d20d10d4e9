import path from 'node:path';
import { errorMessage, log } from '../log';
import { freePort } from '../services/free-port';
import type { Assignment, ReplicaReport } from '../gpu/nodes/assignments';
import { adoptProcess, commandLineOf, isAlive, readLogTail, spawnDetached, type DetachedProcess } from './detached-process';
import type { EngineLauncher } from './engine-launch';

/** Where an agent reads its assignments and writes what became of them: the database, or the control API. */
export interface ReplicaStore {
  assignments(): Promise<Assignment[]>;
  report(replicaId: string, report: ReplicaReport): Promise<void>;
}

export interface SupervisorOptions {
  store: ReplicaStore;
  /** Engine logs go to <dataDir>/logs/<replicaId>.log. */
  dataDir: string;
  launcherFor(engine: Assignment['engine']): EngineLauncher | null;
  /** Address engines listen on and the replica URL uses. */
  host?: string;
  startTimeoutMs?: number;
  stopGraceMs?: number;
  /** How often a ready engine's /health is checked (3 failures in a row: unhealthy). */
  healthEveryMs?: number;
}

type Handle = {
  assignment: Assignment;
  proc: DetachedProcess;
  url: string;
  launcher: EngineLauncher;
  stopping: boolean;
  /** Reports for one replica are written in order. */
  reports: Promise<void>;
  /** Health of a ready replica: when it was last checked, failed checks in a row, and what was reported. */
  checkedAt?: number;
  checking?: boolean;
  failedChecks?: number;
  reported?: 'ready' | 'unhealthy';
};

const UNHEALTHY_AFTER_FAILED_CHECKS = 3;

/**
 * The agent's hands. The reconciler decides which replicas should run where (rows with status
 * 'starting' and no pid); the supervisor starts them detached, records pid, port, URL and log path,
 * turns them 'ready' when the engine says so, reports a crash as 'failed' with its exit code and the
 * engine's own explanation, and stops replicas whose row says 'stopped'. It never restarts on its own:
 * restarts, with backoff, are the reconciler's decision. Rows with a pid it does not hold (an earlier
 * agent's) are adopted when the process is alive and healthy, else reported failed.
 */
export function createReplicaSupervisor(opts: SupervisorOptions) {
  const handles = new Map<string, Handle>();
  const host = opts.host ?? '127.0.0.1';
  const startTimeoutMs = opts.startTimeoutMs ?? 120_000;
  const graceMs = opts.stopGraceMs ?? 5_000;
  const healthEveryMs = opts.healthEveryMs ?? 5_000;
  let abandoned = false;
  let syncing: Promise<void> | undefined;
  const pending = new Set<string>();

  const report = (handle: Handle | undefined, replicaId: string, patch: ReplicaReport): Promise<void> => {
    const write = () =>
      opts.store.report(replicaId, patch).catch((e) => log.warn('agent could not report a replica', { replica: replicaId, status: patch.status, error: errorMessage(e) }));
    if (!handle) return write();
    handle.reports = handle.reports.then(write);
    return handle.reports;
  };

  const explain = (handle: Handle, what: string) => {
    const tail = readLogTail(handle.proc.logPath, 40).join('\n');
    const why = handle.launcher.diagnose(tail);
    return why ? `${what}: ${why}` : what;
  };

  function watchExit(handle: Handle): void {
    void handle.proc.exited.then((exit) => {
      if (abandoned || handle.stopping || handles.get(handle.assignment.replicaId) !== handle) return;
      handles.delete(handle.assignment.replicaId);
      const how = handle.proc.adopted ? 'exited (adopted process: exit code unknown)' : `exited with code ${exit.code}${exit.signal ? `, signal ${exit.signal}` : ''}`;
      void report(handle, handle.assignment.replicaId, { status: 'failed', lastError: explain(handle, `engine ${how}`) });
    });
  }

  async function awaitReady(handle: Handle, deadline: number): Promise<void> {
    const { replicaId, servedName } = handle.assignment;
    while (!abandoned && !handle.stopping && handles.get(replicaId) === handle) {
      const state = await handle.launcher.probeReady(handle.url, servedName, AbortSignal.timeout(5_000));
      if (abandoned || handle.stopping || handles.get(replicaId) !== handle) return;
      if (state === 'ready') {
        handle.reported = 'ready';
        return report(handle, replicaId, { status: 'ready', lastError: null });
      }
      if (state === 'failed' || Date.now() > deadline) {
        handle.stopping = true;
        handles.delete(replicaId);
        await handle.proc.stop(graceMs);
        const what = state === 'failed' ? 'engine reported a failed start' : `engine did not become ready within ${Math.round(startTimeoutMs / 1000)} s`;
        return report(handle, replicaId, { status: 'failed', lastError: explain(handle, what) });
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async function launch(a: Assignment): Promise<void> {
    const launcher = opts.launcherFor(a.engine);
    if (!launcher) return report(undefined, a.replicaId, { status: 'failed', lastError: `this agent cannot run ${a.engine} engines` });
    let handle: Handle | undefined;
    try {
      const port = await freePort();
      if (abandoned) return;
      const command = launcher.command(a, port, host);
      if (!command) return;
      const logPath = path.join(opts.dataDir, 'logs', `${a.replicaId}.log`);
      const proc = spawnDetached(command, logPath);
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      handle = { assignment: a, proc, url, launcher, stopping: false, reports: Promise.resolve() };
      handles.set(a.replicaId, handle);
      watchExit(handle);
      await report(handle, a.replicaId, { status: 'starting', pid: proc.pid, port, url, logPath, lastError: null });
      await awaitReady(handle, Date.now() + startTimeoutMs);
    } catch (e) {
      if (handle) handles.delete(a.replicaId);
      await report(handle, a.replicaId, { status: 'failed', lastError: `could not start the engine: ${errorMessage(e)}` });
    }
  }

  /** An earlier agent's engine: adopt it when it is the same process and healthy, else record the loss. */
  async function adopt(a: Assignment): Promise<void> {
    const launcher = opts.launcherFor(a.engine);
    const pid = a.pid!;
    const cmdline = commandLineOf(pid);
    // A recycled pid belongs to some other program: never adopt or signal it.
    const sameProcess = isAlive(pid) && (cmdline === null || (a.port !== null && cmdline.includes(String(a.port))));
    const logPath = a.logPath ?? path.join(opts.dataDir, 'logs', `${a.replicaId}.log`);
    if (launcher && sameProcess) {
      const handle: Handle = { assignment: a, proc: adoptProcess(pid, logPath), url: a.url, launcher, stopping: false, reports: Promise.resolve() };
      // A replica that was still starting (vLLM can load for minutes) is adopted mid-start and watched to ready.
      if (a.status === 'starting' || (await healthAnswers(a.url))) {
        handles.set(a.replicaId, handle);
        watchExit(handle);
        log.info('agent adopted a running engine', { replica: a.replicaId, pid });
        if (a.status !== 'ready') return awaitReady(handle, Date.now() + startTimeoutMs);
        handle.reported = 'ready';
        return;
      }
      await handle.proc.stop(graceMs);
      return report(undefined, a.replicaId, { status: 'failed', lastError: 'engine was running but not healthy when the agent restarted; stopped it' });
    }
    return report(undefined, a.replicaId, { status: 'failed', lastError: 'engine process was gone when the agent restarted' });
  }

  /** A ready engine that stops answering /health is reported unhealthy (the gateway stops routing to it), and ready again when it recovers. */
  async function checkHealth(handle: Handle): Promise<void> {
    handle.checking = true;
    const ok = await healthAnswers(handle.url).finally(() => {
      handle.checking = false;
      handle.checkedAt = Date.now();
    });
    if (abandoned || handle.stopping || handles.get(handle.assignment.replicaId) !== handle) return;
    handle.failedChecks = ok ? 0 : (handle.failedChecks ?? 0) + 1;
    const next = ok ? 'ready' : handle.failedChecks >= UNHEALTHY_AFTER_FAILED_CHECKS ? 'unhealthy' : handle.reported;
    if (next === handle.reported) return;
    handle.reported = next;
    await report(handle, handle.assignment.replicaId, next === 'ready' ? { status: 'ready', lastError: null } : { status: 'unhealthy', lastError: `engine did not answer /health ${UNHEALTHY_AFTER_FAILED_CHECKS} times in a row` });
  }

  async function stopHandle(handle: Handle): Promise<void> {
    handle.stopping = true;
    handles.delete(handle.assignment.replicaId);
    await handle.proc.stop(graceMs);
  }

  async function syncOnce(): Promise<void> {
    const rows = await opts.store.assignments();
    const seen = new Set<string>();
    const work: Promise<void>[] = [];
    for (const a of rows) {
      seen.add(a.replicaId);
      const handle = handles.get(a.replicaId);
      const active = a.status === 'starting' || a.status === 'ready' || a.status === 'unhealthy';
      if (handle && !active) work.push(stopHandle(handle));
      else if (!handle && active && a.engine !== 'upstream' && !pending.has(a.replicaId)) {
        // Launch and adoption run in the background: one slow engine must not hold up the others.
        const task = a.pid === null ? (a.status === 'starting' ? launch(a) : report(undefined, a.replicaId, { status: 'failed', lastError: 'replica has no process' })) : adopt(a);
        pending.add(a.replicaId);
        void task.finally(() => pending.delete(a.replicaId));
      }
    }
    for (const handle of handles.values()) if (!seen.has(handle.assignment.replicaId)) work.push(stopHandle(handle));
    for (const handle of handles.values()) if (handle.reported && !handle.checking && Date.now() - (handle.checkedAt ?? 0) >= healthEveryMs) void checkHealth(handle);
    await Promise.all(work);
  }

  return {
    /** One pass: start, adopt and stop to match the assigned rows. Concurrent calls share one pass. */
    sync(): Promise<void> {
      if (abandoned) return Promise.resolve();
      syncing ??= syncOnce().finally(() => (syncing = undefined));
      return syncing;
    },
    /** Graceful stop: every engine gets SIGTERM (SIGKILL after the grace period); rows become 'stopped'. */
    async stopAll(): Promise<void> {
      await syncing?.catch(() => undefined);
      abandoned = true;
      const all = [...handles.values()];
      await Promise.all(
        all.map(async (handle) => {
          await stopHandle(handle);
          await handle.reports;
          await opts.store.report(handle.assignment.replicaId, { status: 'stopped', pid: null }).catch((e) => log.warn('agent could not record a stop', { error: errorMessage(e) }));
        }),
      );
    },
    /** What a crash does: stop supervising and leave every engine running, for the next agent to adopt. */
    abandon(): void {
      abandoned = true;
      for (const handle of handles.values()) handle.proc.release();
      handles.clear();
    },
    running: () => [...handles.values()].map((h) => ({ replicaId: h.assignment.replicaId, pid: h.proc.pid, url: h.url, adopted: h.proc.adopted })),
    /** Launches and adoptions still in progress. */
    busy: () => pending.size > 0,
  };
}

async function healthAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(3_000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

export type ReplicaSupervisor = ReturnType<typeof createReplicaSupervisor>;
