import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import client from 'prom-client';
import { CLUSTER_METRICS_ANSWER, CLUSTER_METRICS_REQUEST } from '../core/metrics';
import { errorMessage, log } from '../core/log';
import { restartDelayMs } from '../process/backoff';
import type { Env } from '../core/env';
import { prepareInfrastructure } from '../services/infrastructure';
import { loadTls } from '../http/tls';

/**
 * GATEWAY_WORKERS: the standalone gateway as several processes sharing one listening port (node:cluster,
 * each worker accepting on the shared socket). One Node process streams on one core;
 * each worker is a full gateway, and everything they must agree on already lives in Redis and PostgreSQL
 * (quotas, key revocations, routing announcements), exactly as for gateways on separate machines.
 */
export function gatewayWorkerCount(setting: number): number {
  return setting > 0 ? setting : os.availableParallelism();
}

export interface WorkerSupervisor {
  workers(): Worker[];
  /** Resolves with the shared port once every worker listens. */
  listening: Promise<number>;
  /** Asks every worker to stop (SIGTERM: each runs its ordered shutdown), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** A worker that lived this long before dying starts its restart backoff from the beginning again. */
const STABLE_MS = 60_000;

/**
 * Forks `count` workers running this same program, restarts any that dies unasked (with backoff, so a
 * crash loop never spins the CPU), and answers workers' requests for the cluster's metrics. Called in
 * the primary only.
 */
export function superviseWorkers(count: number, env: Record<string, string> = {}): WorkerSupervisor {
  if (!cluster.isPrimary) throw new Error('superviseWorkers runs in the primary process only');
  // Workers accept on the shared socket themselves (unless NODE_CLUSTER_SCHED_POLICY says otherwise):
  // Node's default round-robin passes every connection through the primary over IPC, which doubled the
  // added TTFT of two workers at 200 streams in bench:gateway (+94 ms against +39 ms).
  if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
  const aggregator = new client.AggregatorRegistry();
  let stopping = false;
  const live = new Set<Worker>();
  let resolveListening!: (port: number) => void;
  const listening = new Promise<number>((resolve) => (resolveListening = resolve));
  const listeningIds = new Set<number>();

  cluster.on('message', (worker, msg: { type?: string; id?: string }) => {
    if (msg?.type !== CLUSTER_METRICS_REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) => worker.isConnected() && worker.send({ type: CLUSTER_METRICS_ANSWER, id: msg.id, text }),
      (e) => worker.isConnected() && worker.send({ type: CLUSTER_METRICS_ANSWER, id: msg.id, error: errorMessage(e) }),
    );
  });

  const start = (slot: number, attempt: number) => {
    const startedAt = Date.now();
    const worker = cluster.fork({ ...env, ENCLAVE_GATEWAY_WORKER_SLOT: String(slot) });
    live.add(worker);
    worker.on('listening', (address) => {
      listeningIds.add(slot);
      if (listeningIds.size === count) resolveListening(address.port);
    });
    worker.on('exit', (code, signal) => {
      live.delete(worker);
      if (stopping) return;
      const next = Date.now() - startedAt > STABLE_MS ? 1 : attempt + 1;
      const delay = restartDelayMs(next);
      log.warn('gateway worker exited; starting another', { slot, pid: worker.process.pid, code, signal, restartInMs: delay });
      setTimeout(() => !stopping && start(slot, next), delay).unref();
    });
  };
  for (let slot = 0; slot < count; slot++) start(slot, 0);

  return {
    workers: () => [...live],
    listening,
    async stop(graceMs = 30_000) {
      stopping = true;
      const exits = [...live].map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            const kill = setTimeout(() => w.process.kill('SIGKILL'), graceMs);
            w.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            w.process.kill('SIGTERM');
          }),
      );
      await Promise.all(exits);
    },
  };
}

/**
 * The primary of a gateway with several workers: prepares what every worker needs once (an embedded
 * PostgreSQL or Redis started, migrations applied, a first master key written), then only supervises.
 * It serves no request, so a worker's crash costs the streams on that worker alone.
 */
export async function runGatewayPrimary(env: Env, count: number): Promise<void> {
  // TLS files every worker would refuse stop the start here, once, rather than restart workers forever.
  try {
    loadTls(env)?.close();
  } catch (e) {
    process.stderr.write(`enclave: start failed: ${errorMessage(e)}\n`);
    process.exit(1);
  }
  const infra = await prepareInfrastructure(env);
  const supervisor = superviseWorkers(count);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down gateway workers', { signal, workers: supervisor.workers().length });
    await supervisor.stop();
    await infra.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  const port = await supervisor.listening;
  process.stdout.write(`Enclave is ready on ${env.ENCLAVE_TLS_CERT ? 'https' : 'http'}://localhost:${port} (gateway, ${count} workers)\n`);
}
