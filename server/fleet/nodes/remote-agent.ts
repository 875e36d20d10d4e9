import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, type Env } from '../../core/env';
import { errorMessage, log } from '../../core/log';
import { launcherFor } from '../engine-launch';
import { createReplicaSupervisor } from '../replica-supervisor';
import { readInventory } from '../../gpu/inventory';
import type { Inventory } from '../../gpu/types';
import { controlPlaneClient, controlPlaneUrl, joinControlPlane } from './control-client';
import { nodeLabels } from './labels';
import { createTrainerRunner } from './remote-trainers';

type SavedCredential = { joinUrl: string; nodeName: string; credential: string };

/**
 * Where a remote host's engines listen, which is also the address the gateway dials: loopback would not
 * reach them, every interface (or whatever the host name resolves to) could expose them to any network.
 * ENCLAVE_ENGINE_HOST, else a specific HOST; nothing is guessed.
 */
function remoteEngineHost(env: Env): string {
  const host = env.ENCLAVE_ENGINE_HOST ?? (['0.0.0.0', '::', '[::]'].includes(env.HOST) ? undefined : env.HOST);
  if (!host) throw new ConfigError('ENCLAVE_ENGINE_HOST must be set on a remote agent: the private address the gateway reaches this host at (its engines listen there only)');
  return host;
}

/**
 * An agent on another host: joins the control plane once with a one-time token (the credential it gets
 * back is kept in <dataDir>/agent-credential.json, mode 0600, so a restart needs no new token), then
 * heartbeats and runs its assigned replicas and trainers (remote-trainers.ts) through the control API,
 * never the database.
 * Model locations are paths as the control plane knows them: remote hosts need the same model storage
 * mounted at the same path.
 */
export async function startRemoteAgent(
  env: Env,
  opts: { joinUrl: string; token?: string; nodeName?: string; pollMs?: number; heartbeatMs?: number; trainerPollMs?: number; inventory?: () => Promise<Inventory> },
) {
  const base = controlPlaneUrl(opts.joinUrl, env.ENCLAVE_ALLOW_INSECURE_JOIN);
  const engineHost = remoteEngineHost(env);
  const inventory = opts.inventory ?? (() => readInventory());
  const nodeName = opts.nodeName ?? env.ENCLAVE_NODE_NAME ?? os.hostname();
  const savedPath = path.join(env.dataDir, 'agent-credential.json');
  let saved: SavedCredential | undefined;
  try {
    const parsed = JSON.parse(fs.readFileSync(savedPath, 'utf8')) as SavedCredential;
    if (parsed.joinUrl === base.href && parsed.nodeName === nodeName) saved = parsed;
  } catch {
    // Not joined yet.
  }
  if (!saved || opts.token) {
    if (!opts.token) throw new Error('This agent has not joined yet: pass --token (from `enclave nodes join-token` on the control plane)');
    const inv = await inventory();
    const joined = await joinControlPlane(base, opts.token, {
      name: nodeName,
      labels: nodeLabels(env),
      gpus: inv.gpus,
      topology: inv.topology,
      driverVersion: inv.driverVersion ?? null,
      cudaVersion: inv.cudaVersion ?? null,
    });
    saved = { joinUrl: base.href, nodeName: joined.nodeName, credential: joined.credential };
    fs.mkdirSync(env.dataDir, { recursive: true });
    fs.writeFileSync(savedPath, JSON.stringify(saved), { mode: 0o600 });
    log.info('agent joined the control plane', { node: joined.nodeName, control: base.origin });
  }
  const client = controlPlaneClient(base, saved.credential);
  const defaults = { threads: env.ENCLAVE_LLAMACPP_THREADS, context: env.ENCLAVE_LLAMACPP_CONTEXT, sequences: env.ENCLAVE_LLAMACPP_SEQUENCES };
  const supervisor = createReplicaSupervisor({ store: client.store, dataDir: env.dataDir, launcherFor: (engine) => launcherFor(engine, defaults), host: engineHost });

  const trainers = createTrainerRunner({
    client: client.jobs,
    dataDir: env.dataDir,
    trainer: { python: env.ENCLAVE_TRAINER_PYTHON, override: env.ENCLAVE_TRAINER_COMMAND },
    pollMs: opts.trainerPollMs,
  });

  let stopped = false;
  const timers = new Map<string, NodeJS.Timeout>();
  const inFlight = new Map<string, Promise<void>>();
  const loop = (name: string, ms: number, task: () => Promise<unknown>) => {
    const run = (): Promise<void> => {
      const pass = task()
        .then(() => undefined)
        .catch((e) => log.warn('remote agent loop failed', { loop: name, error: errorMessage(e) }))
        .finally(() => {
          if (!stopped) timers.set(name, setTimeout(run, ms));
        });
      inFlight.set(name, pass);
      return pass;
    };
    return run;
  };
  // The first heartbeat is awaited so that a revoked credential fails the start, not a log line later.
  await client.heartbeat((await inventory()).gpus);
  timers.set('heartbeat', setTimeout(loop('heartbeat', opts.heartbeatMs ?? 5_000, async () => client.heartbeat((await inventory()).gpus)), opts.heartbeatMs ?? 5_000));
  await loop('replicas', opts.pollMs ?? 2_000, () => supervisor.sync())();
  // Trainers report their log every second: the job page's loss chart follows at that pace.
  await loop('trainers', opts.trainerPollMs ?? 1_000, () => trainers.sync())();

  return {
    nodeName: saved.nodeName,
    supervisor,
    trainers,
    async stop() {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      await Promise.all(inFlight.values());
      // Trainers keep running (hours of work); the next agent adopts them. Replicas stop gracefully.
      trainers.release();
      await supervisor.stopAll();
    },
  };
}
