import os from 'node:os';
import type { Db } from '../db/client';
import type { Env } from '../core/env';
import { readInventory } from '../gpu/inventory';
import { dbReplicaStore } from './nodes/db-store';
import { dbTrainerClient } from './nodes/db-trainer-client';
import { createTrainerRunner } from './nodes/remote-trainers';
import { readHostStats } from './host/host-stats';
import { recordHeartbeat } from './nodes/heartbeat';
import { registerNode } from './nodes/register';
import { nodeLabels } from './nodes/labels';
import type { Inventory } from '../gpu/types';
import { errorMessage, log } from '../core/log';
import { launcherFor } from './engine-launch';
import { modelPreparer } from './model-cache';
import { artifactStore } from '../artifacts';
import { createReplicaSupervisor, type ReplicaSupervisor } from './replica-supervisor';

export interface AgentRole {
  nodeName: string;
  supervisor: ReplicaSupervisor;
  /** Graceful: stops every engine this agent runs and marks their rows stopped. */
  stop(): Promise<void>;
  /** What a crash does (for tests and hand-overs): stop the loops, leave the engines running. */
  abandon(): void;
}

export interface AgentOptions {
  nodeName?: string;
  pollMs?: number;
  heartbeatMs?: number;
  startTimeoutMs?: number;
  healthEveryMs?: number;
  inventory?: () => Promise<Inventory>;
  /** The install's master key: each replica's secret derives from it, and it opens the datasets of jobs placed on this node. */
  masterKey: Buffer;
  trainerPollMs?: number;
}

/**
 * The local agent (the one `enclave start` runs, sharing the control plane's database): registers this
 * host, sends heartbeats with a GPU sample, and runs the replicas assigned to it with the supervisor,
 * adopting engines a previous agent left running, and the trainers of jobs handed to this node.
 */
export async function startAgent(db: Db, env: Env, opts: AgentOptions): Promise<AgentRole> {
  const nodeName = opts.nodeName ?? env.ENCLAVE_NODE_NAME ?? os.hostname();
  const inventory = opts.inventory ?? (() => readInventory());
  const first = await inventory();
  if (first.note) log.info('agent inventory', { node: nodeName, gpus: first.gpus.length, note: first.note });
  await registerNode(db, {
    name: nodeName,
    labels: nodeLabels(env),
    gpus: first.gpus,
    topology: first.topology,
    driverVersion: first.driverVersion,
    cudaVersion: first.cudaVersion,
  });

  const defaults = { threads: env.ENCLAVE_LLAMACPP_THREADS, context: env.ENCLAVE_LLAMACPP_CONTEXT, sequences: env.ENCLAVE_LLAMACPP_SEQUENCES };
  const artifacts = artifactStore(env, db, opts.masterKey);
  const supervisor = createReplicaSupervisor({
    // The worker's deploy reconciler places replicas and derives deployment status; the agent runs what it is given.
    store: dbReplicaStore(db, nodeName, opts.masterKey),
    dataDir: env.dataDir,
    launcherFor: (engine) => launcherFor(engine, defaults),
    // Loopback unless the gateway runs on another host (a pod per role): then this host's private address.
    host: env.ENCLAVE_ENGINE_HOST,
    multinode: env.ENCLAVE_VLLM_MULTINODE,
    // A version produced by a job on another host is fetched from the artifact store into <dataDir>/model-cache.
    prepare: modelPreparer(env.dataDir, () => artifacts),
    startTimeoutMs: opts.startTimeoutMs,
    healthEveryMs: opts.healthEveryMs,
  });

  // Jobs placed on this node and handed to its agent (the worker runs those of its own node itself).
  const trainers = createTrainerRunner({
    client: dbTrainerClient(db, { masterKey: opts.masterKey, dataDir: env.dataDir }, nodeName),
    dataDir: env.dataDir,
    trainer: { python: env.ENCLAVE_TRAINER_PYTHON, override: env.ENCLAVE_TRAINER_COMMAND },
  });

  let stopped = false;
  const loops = [
    every(opts.pollMs ?? 1_500, () => supervisor.sync()),
    every(opts.heartbeatMs ?? 5_000, async () => recordHeartbeat(db, nodeName, (await inventory()).gpus, new Date(), await readHostStats(env.dataDir))),
    every(opts.trainerPollMs ?? 1_000, () => trainers.sync()),
  ];
  await loops[0]!.runNow();

  return {
    nodeName,
    supervisor,
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(loops.map((l) => l.stop()));
      // Trainers keep running (hours of work); the next agent adopts them. Replicas stop gracefully.
      trainers.release();
      await supervisor.stopAll();
    },
    abandon() {
      stopped = true;
      for (const l of loops) void l.stop();
      trainers.release();
      supervisor.abandon();
    },
  };
}

/** Runs `task` every `ms`, never twice at once; a failure is logged and the loop goes on. */
function every(ms: number, task: () => Promise<unknown>) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const run = (): Promise<void> => {
    running ??= task()
      .then(() => undefined)
      .catch((e) => log.warn('agent loop failed', { error: errorMessage(e) }))
      .finally(() => {
        running = undefined;
        if (!stopped) {
          clearTimeout(timer);
          timer = setTimeout(run, ms);
        }
      });
    return running;
  };
  timer = setTimeout(run, ms);
  return {
    runNow: run,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
