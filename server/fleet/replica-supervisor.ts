import path from 'node:path';
import { errorMessage, log } from '../core/log';
import { freePort } from '../core/net/free-port';
import type { Assignment, ReplicaReport } from './nodes/assignments';
import { adoptProcess, commandLineOf, isAlive, readLogTail, spawnDetached, type DetachedProcess } from '../process/detached-process';
import type { EngineLauncher } from './engine-launch';
import type { StartupMeasurement } from '../engines/vllm/startup-log';
import { logSize, measureStart } from './start-measure';
import { groupLaunchFor, isWorkerOf, waitForListening, workerMayStart } from './group-launch';
import { formatRendezvous } from '../engines/vllm/multinode';
import type { GroupLaunch } from '../engines/types';

/** Where an agent reads its assignments and writes what became of them: the database, or the control API. */
export interface ReplicaStore {
  assignments(): Promise<Assignment[]>;
  report(replicaId: string, report: ReplicaReport): Promise<void>;
  /** Stores what the engine measured while starting (its start-up log), once the replica is ready. */
  recordStart?(replicaId: string, measured: StartupMeasurement): Promise<void>;
}

export interface SupervisorOptions {
  store: ReplicaStore;
  /** Engine logs go to <dataDir>/logs/<replicaId>.log. */
  dataDir: string;
  launcherFor(engine: Assignment['engine']): EngineLauncher | null;
  /** Address engines listen on and the replica URL uses: loopback (the default) or the private address the gateway reaches this host at. */
  host?: string;
  startTimeoutMs?: number;
  stopGraceMs?: number;
  /** How often a ready engine's /health is checked (3 failures in a row: unhealthy). */
  healthEveryMs?: number;
  /** How a multi-node replica this host heads forms its group (ENCLAVE_VLLM_MULTINODE); workers follow their head. */
  multinode?: GroupLaunch['mode'];
  /** Makes the assignment's model local before its engine starts (fleet/model-cache.ts: fetched from the artifact store when this host lacks the file). */
  prepare?(a: Assignment): Promise<Assignment>;
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
  /** Where this start's lines begin in the log (a restart appends to the same file); unknown when adopted. */
  logOffset?: number;
  /** When the row first carried this process's pid (adopted: it always did). */
  pidReportedAt?: number;
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
  const host = engineHost(opts.host);
  const startTimeoutMs = opts.startTimeoutMs ?? 120_000;
  const graceMs = opts.stopGraceMs ?? 5_000;
  const healthEveryMs = opts.healthEveryMs ?? 5_000;
  let abandoned = false;
  let syncing: Promise<void> | undefined;
  const pending = new Set<string>();
  /** When each replica's exit was written (watchExit): rows read before it are stale for that replica. */
  const exitWrittenAt = new Map<string, number>();

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
      const { replicaId } = handle.assignment;
      if (abandoned || handle.stopping || handles.get(replicaId) !== handle) return;
      // Until the failure is written the row still says ready with the dead pid: a sync pass in between
      // must not take it for an earlier agent's engine and report it "gone" over the real exit.
      pending.add(replicaId);
      handles.delete(replicaId);
      const how = handle.proc.adopted ? 'exited (adopted process: exit code unknown)' : `exited with code ${exit.code}${exit.signal ? `, signal ${exit.signal}` : ''}`;
      void report(handle, replicaId, { status: 'failed', lastError: explain(handle, `engine ${how}`) }).finally(() => {
        // A sync pass whose read began before this write holds the row as it was (ready, the dead pid):
        // it must skip the replica, not adopt the dead pid and report it "gone" over the real exit.
        exitWrittenAt.set(replicaId, Date.now());
        pending.delete(replicaId);
      });
    });
  }

  async function awaitReady(handle: Handle, deadline: number): Promise<void> {
    const { replicaId, servedName } = handle.assignment;
    while (!abandoned && !handle.stopping && handles.get(replicaId) === handle) {
      const state = await handle.launcher.probeReady(handle.url, servedName, handle.assignment.secret, AbortSignal.timeout(5_000));
      if (abandoned || handle.stopping || handles.get(replicaId) !== handle) return;
      if (state === 'ready') {
        handle.reported = 'ready';
        await report(handle, replicaId, { status: 'ready', lastError: null });
        return recordStart(handle);
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

  /** Once per start, after it reports ready: what the engine measured, for the estimate to learn from. */
  async function recordStart(handle: Handle): Promise<void> {
    const { replicaId, engine } = handle.assignment;
    const measured = opts.store.recordStart ? measureStart(engine, handle.proc.logPath, handle.logOffset) : null;
    if (!measured) return;
    handle.reports = handle.reports.then(() =>
      opts.store.recordStart!(replicaId, measured).catch((e) => log.warn('agent could not record a start measurement', { replica: replicaId, error: errorMessage(e) })),
    );
    return handle.reports;
  }

  async function launch(a: Assignment): Promise<void> {
    const launcher = opts.launcherFor(a.engine);
    if (!launcher) return report(undefined, a.replicaId, { status: 'failed', lastError: `this agent cannot run ${a.engine} engines` });
    let handle: Handle | undefined;
    try {
      const port = await freePort();
      if (abandoned) return;
      const group = a.group ? groupLaunchFor(a, host, opts.multinode ?? 'mp', await otherFreePort(port)) : undefined;
      if (group && 'wait' in group) return;
      if (group && group.rank > 0) return await launchWorker(a, launcher, group);
      // A fetch may take minutes; the start timeout counts from the spawn. A failed fetch fails the start, saying why.
      const ready = opts.prepare ? await opts.prepare(a) : a;
      if (abandoned) return;
      const command = launcher.command(ready, port, host, group);
      if (!command) return;
      const logPath = path.join(opts.dataDir, 'logs', `${a.replicaId}.log`);
      const logOffset = logSize(logPath);
      const proc = spawnDetached(command, logPath);
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      handle = { assignment: a, proc, url, launcher, stopping: false, reports: Promise.resolve(), logOffset };
      handles.set(a.replicaId, handle);
      watchExit(handle);
      await report(handle, a.replicaId, { status: 'starting', pid: proc.pid, port, url, logPath, lastError: null, ...(group ? { rendezvous: null } : {}) });
      handle.pidReportedAt = Date.now();
      const deadline = Date.now() + startTimeoutMs;
      if (group && !(await publishRendezvous(handle, group, deadline))) return;
      await awaitReady(handle, deadline);
    } catch (e) {
      if (handle) handles.delete(a.replicaId);
      await report(handle, a.replicaId, { status: 'failed', lastError: `could not start the engine: ${errorMessage(e)}` });
    }
  }

  /**
   * A group's head opens its meeting point first; once it accepts connections the agent publishes it on
   * the replica row, and only then do the members' agents start the workers (head first, always).
   */
  async function publishRendezvous(handle: Handle, group: GroupLaunch, deadline: number): Promise<boolean> {
    const { replicaId } = handle.assignment;
    const current = () => !abandoned && !handle.stopping && handles.get(replicaId) === handle;
    if (await waitForListening(group.masterAddr, group.masterPort, current, deadline)) {
      await report(handle, replicaId, { rendezvous: formatRendezvous(group.mode, group.masterAddr, group.masterPort) });
      return true;
    }
    if (!current()) return false;
    handle.stopping = true;
    handles.delete(replicaId);
    await handle.proc.stop(graceMs);
    await report(handle, replicaId, { status: 'failed', lastError: explain(handle, `the group's head did not listen on its master port ${group.masterPort} within ${Math.round(startTimeoutMs / 1000)} s`) });
    return false;
  }

  /** A group's worker: no API, no readiness of its own (the group is ready when its head is); its exit fails the group. */
  async function launchWorker(a: Assignment, launcher: EngineLauncher, group: GroupLaunch): Promise<void> {
    const command = launcher.command(a, 0, host, group);
    if (!command) return;
    const logPath = path.join(opts.dataDir, 'logs', `${a.replicaId}.log`);
    const proc = spawnDetached(command, logPath);
    const handle: Handle = { assignment: a, proc, url: '', launcher, stopping: false, reports: Promise.resolve(), logOffset: logSize(logPath) };
    handles.set(a.replicaId, handle);
    watchExit(handle);
    await report(handle, a.replicaId, { status: 'starting', pid: proc.pid, logPath, lastError: null });
    handle.pidReportedAt = Date.now();
  }

  /** An earlier agent's engine: adopt it when it is the same process and healthy, else record the loss. */
  async function adopt(a: Assignment): Promise<void> {
    const launcher = opts.launcherFor(a.engine);
    const pid = a.pid!;
    const cmdline = commandLineOf(pid);
    if (a.group && a.group.rank > 0) {
      // A worker has nothing to probe: alive and still pointed at its head is all there is to know.
      const logPath = a.logPath ?? path.join(opts.dataDir, 'logs', `${a.replicaId}.log`);
      if (!launcher || !isAlive(pid) || !isWorkerOf(cmdline, a)) return report(undefined, a.replicaId, { status: 'failed', lastError: 'worker process was gone when the agent restarted' });
      const handle: Handle = { assignment: a, proc: adoptProcess(pid, logPath), url: '', launcher, stopping: false, reports: Promise.resolve(), pidReportedAt: 0 };
      handles.set(a.replicaId, handle);
      watchExit(handle);
      return;
    }
    // A recycled pid belongs to some other program: never adopt or signal it.
    const sameProcess = isAlive(pid) && (cmdline === null || (a.port !== null && cmdline.includes(String(a.port))));
    const logPath = a.logPath ?? path.join(opts.dataDir, 'logs', `${a.replicaId}.log`);
    if (launcher && sameProcess) {
      const handle: Handle = { assignment: a, proc: adoptProcess(pid, logPath), url: a.url, launcher, stopping: false, reports: Promise.resolve(), pidReportedAt: 0 };
      // A replica that was still starting (vLLM can load for minutes) is adopted mid-start and watched to
      // ready; a running one must list its model to this replica's secret: one started under another
      // master key would refuse the gateway, so it is replaced rather than adopted.
      const state = a.status === 'starting' ? 'loading' : await launcher.probeReady(a.url, a.servedName, a.secret, AbortSignal.timeout(5_000)).catch(() => 'loading' as const);
      if (a.status === 'starting' || state === 'ready') {
        handles.set(a.replicaId, handle);
        watchExit(handle);
        log.info('agent adopted a running engine', { replica: a.replicaId, pid });
        if (a.status !== 'ready') return awaitReady(handle, Date.now() + startTimeoutMs);
        handle.reported = 'ready';
        return;
      }
      await handle.proc.stop(graceMs);
      const why = state === 'failed' ? "did not serve its model to this replica's secret (started under another master key?)" : 'not healthy';
      return report(undefined, a.replicaId, { status: 'failed', lastError: `engine was running but ${why} when the agent restarted; stopped it` });
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

  /** The control plane now derives another secret (a new master key): the engine would refuse the gateway. */
  async function retireForNewSecret(handle: Handle): Promise<void> {
    await stopHandle(handle);
    await report(handle, handle.assignment.replicaId, { status: 'failed', lastError: "the replica's secret changed (a new master key): stopped its engine so that it restarts with the new one" });
  }

  async function syncOnce(): Promise<void> {
    const readAt = Date.now();
    const rows = await opts.store.assignments();
    const seen = new Set<string>();
    const work: Promise<void>[] = [];
    for (const a of rows) {
      seen.add(a.replicaId);
      const handle = handles.get(a.replicaId);
      const active = a.status === 'starting' || a.status === 'ready' || a.status === 'unhealthy';
      if (handle && !active) work.push(stopHandle(handle));
      // The row lost the pid it carried when this read began: the reconciler restarted the replica (a
      // group's whole restart can follow its failure within one poll), so this process is an earlier start's.
      else if (handle && a.pid === null && handle.pidReportedAt !== undefined && handle.pidReportedAt < readAt) work.push(stopHandle(handle));
      else if (handle && a.secret !== handle.assignment.secret) work.push(retireForNewSecret(handle));
      else if (!handle && active && a.engine !== 'upstream' && !pending.has(a.replicaId) && (exitWrittenAt.get(a.replicaId) ?? 0) < readAt) {
        // A group's worker starts only once its head listens (the next pass after it publishes).
        if (a.group && a.group.rank > 0 && a.pid === null && !workerMayStart(a)) continue;
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

/** A second free port for a group head's master (the OS may hand out the API's port again). */
async function otherFreePort(taken: number): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port !== taken) return port;
  }
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '']);

/** Engines never listen on every interface: only loopback, or the one address the gateway uses. */
function engineHost(host = '127.0.0.1'): string {
  if (WILDCARDS.has(host.trim())) throw new Error(`engines must listen on loopback or the private address the gateway reaches this host at, not '${host}' (every interface)`);
  return host;
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
