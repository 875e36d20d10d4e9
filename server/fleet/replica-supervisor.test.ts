import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { isAlive } from '../process/detached-process';
import { until } from '../testing/until';
import type { Assignment, ReplicaReport } from './nodes/assignments';
import type { EngineLauncher } from './engine-launch';
import { createReplicaSupervisor, type ReplicaStore } from './replica-supervisor';

/**
 * The supervisor's own ordering, with an in-memory store: the agent tests run it against PostgreSQL, where
 * a sync pass landing between an engine's exit and the write of its failure happened only now and then.
 * Here the store holds that write back so the pass always lands in between.
 */
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-supervisor-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

/** A process that stays up until killed; "ready" as soon as it runs. */
const sleeper: EngineLauncher = {
  command: (_a, port) => ({ file: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)', String(port)] }),
  probeReady: async () => 'ready',
  diagnose: () => null,
};

it('an engine that dies is reported with its exit, even when a sync pass runs before that report is written', async () => {
  const row: Assignment = {
    replicaId: 'r1', deploymentId: 'd1', servedName: 'sleeper', engine: 'llamacpp', spec: {}, modelLocation: '/m',
    gpuIndices: [], status: 'starting', pid: null, port: null, url: '', logPath: null, secret: 's',
  };
  const reports: ReplicaReport[] = [];
  let holdFailure: (() => void) | undefined;
  const store: ReplicaStore = {
    assignments: async () => [{ ...row }],
    async report(_id, report) {
      if (report.status === 'failed') await new Promise<void>((resolve) => (holdFailure = resolve));
      reports.push(report);
      Object.assign(row, report);
    },
  };
  const supervisor = createReplicaSupervisor({ store, dataDir, launcherFor: () => sleeper, healthEveryMs: 60_000 });
  await supervisor.sync();
  await until('ready', async () => row.status === 'ready');
  const pid = row.pid!;

  process.kill(pid, 'SIGKILL');
  await until('the failure report to be under way', async () => holdFailure !== undefined);
  // The row still says ready with the dead pid: this pass must not treat it as an earlier agent's engine.
  await supervisor.sync();
  await new Promise((resolve) => setTimeout(resolve, 100));
  holdFailure!();
  await until('failed', async () => row.status === 'failed');
  await supervisor.sync();

  const failures = reports.filter((r) => r.status === 'failed');
  expect(failures).toHaveLength(1);
  expect(failures[0]!.lastError).toMatch(/exited with code null, signal SIGKILL/);
  expect(isAlive(pid)).toBe(false);
  expect(supervisor.running()).toEqual([]);
});

it('a sync pass whose read began before the exit was written does not report the engine "gone" over its real exit', async () => {
  const row: Assignment = {
    replicaId: 'r3', deploymentId: 'd1', servedName: 'sleeper', engine: 'llamacpp', spec: {}, modelLocation: '/m',
    gpuIndices: [], status: 'starting', pid: null, port: null, url: '', logPath: null, secret: 's',
  };
  const reports: ReplicaReport[] = [];
  let slowRead: { snapshot: Assignment; release: () => void } | undefined;
  const store: ReplicaStore = {
    async assignments() {
      const snapshot = { ...row };
      // A loaded database: this read returns the row as it was when the read began.
      if (slowRead === undefined && row.status === 'ready' && holdReads) {
        await new Promise<void>((resolve) => (slowRead = { snapshot, release: resolve }));
      }
      return [snapshot];
    },
    async report(_id, report) {
      reports.push(report);
      Object.assign(row, report);
    },
  };
  let holdReads = false;
  const supervisor = createReplicaSupervisor({ store, dataDir, launcherFor: () => sleeper, healthEveryMs: 60_000 });
  await supervisor.sync();
  await until('ready', async () => row.status === 'ready');
  const pid = row.pid!;

  holdReads = true;
  const pass = supervisor.sync(); // reads 'ready' with the live pid, then waits
  await until('the pass to be reading', async () => slowRead !== undefined);
  process.kill(pid, 'SIGKILL');
  await until('the exit to be written', async () => row.status === 'failed');
  slowRead!.release(); // the pass now sees the stale row: ready, a dead pid, no handle
  await pass;
  await new Promise((resolve) => setTimeout(resolve, 100));

  const failures = reports.filter((r) => r.status === 'failed');
  expect(failures.map((f) => f.lastError)).toEqual([expect.stringMatching(/exited with code null, signal SIGKILL/)]);
});

it("a row the reconciler restarted between two passes (pid gone, starting again) stops the earlier start's process and runs a new one", async () => {
  const row: Assignment = {
    replicaId: 'r2', deploymentId: 'd1', servedName: 'sleeper', engine: 'llamacpp', spec: {}, modelLocation: '/m',
    gpuIndices: [], status: 'starting', pid: null, port: null, url: '', logPath: null, secret: 's',
  };
  const store: ReplicaStore = { assignments: async () => [{ ...row }], report: async (_id, report) => void Object.assign(row, report) };
  const supervisor = createReplicaSupervisor({ store, dataDir, launcherFor: () => sleeper, healthEveryMs: 60_000, stopGraceMs: 500 });
  await supervisor.sync();
  await until('ready', async () => row.status === 'ready');
  const first = row.pid!;
  // The agent never saw 'failed': the next row it reads is already the restart's.
  Object.assign(row, { status: 'starting', pid: null, port: null, url: '' });
  await supervisor.sync();
  expect(isAlive(first)).toBe(false);
  await until('the restart to run', async () => (await supervisor.sync(), row.status === 'ready' && row.pid !== first));
  expect(supervisor.running().map((r) => r.pid)).toEqual([row.pid]);
  await supervisor.stopAll();
});
