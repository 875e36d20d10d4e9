import { ensureUiBuild } from '../http/next-build';
import { startWebServer, type WebServer } from './web-server';
import { closeRedis } from '../core/redis';
import { closeQueues } from '../core/queues';
import { closeJobFollowers } from '../lifecycle/jobs/live';
import type { Env } from '../core/env';
import { errorMessage, log } from '../core/log';
import { registerModelsDir } from '../lifecycle/models-dir';
import { bootstrapAdmin } from './admin-notice';
import { modelsDirFor } from './models-dir-default';
import { prepareInfrastructure } from '../services/infrastructure';
import { createGateway } from '../gateway/gateway';
import { startGatewayServer } from '../gateway/server';
import { redis } from '../core/redis';
import { startWorkers } from '../../workers/index';
import { startAgent } from '../fleet/agent';
import { checkArtifactStore } from '../artifacts';
import cluster from 'node:cluster';
import path from 'node:path';
import { configureVectorIndex, flushVectorIndex } from '../knowledge/vector-index';
import { gatewayWorkerCount, runGatewayPrimary } from './gateway-cluster';

export interface RoleSet {
  web?: boolean;
  gateway?: boolean;
  worker?: boolean;
  agent?: boolean;
}

/**
 * Starts the chosen roles in this process and stops them in order on SIGINT/SIGTERM: stop taking
 * requests, let jobs reach a safe point, flush request logs, stop engines, then Redis and PostgreSQL.
 */
export async function runRoles(env: Env, roles: RoleSet): Promise<void> {
  // The gateway alone, on several cores: this process becomes the primary of GATEWAY_WORKERS workers,
  // each of which comes back here as a cluster worker and runs the role as a single gateway would.
  const gatewayOnly = roles.gateway && !roles.web && !roles.worker && !roles.agent;
  if (gatewayOnly && cluster.isPrimary && gatewayWorkerCount(env.GATEWAY_WORKERS) > 1) {
    return runGatewayPrimary(env, gatewayWorkerCount(env.GATEWAY_WORKERS));
  }
  const infra = await prepareInfrastructure(env);
  const { db, masterKey } = infra;
  const stops: Array<[string, () => Promise<void>]> = [];
  let shuttingDown = false;

  const shutdown = async (signal: string, exitCode = 0) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info('shutting down', { signal });
    for (const [name, stop] of stops.reverse()) {
      const started = performance.now();
      await stop().catch((e) => log.warn(`stopping ${name} failed`, { error: errorMessage(e) }));
      log.info(`stopped ${name}`, { ms: Math.round(performance.now() - started) });
    }
    await closeQueues().catch(() => {});
    await closeJobFollowers();
    await closeRedis();
    await infra.close();
    log.info('stopped');
    process.exit(exitCode);
  };
  // `on`, not `once`: signal-exit (used by dependencies) re-raises the signal when it sees no other
  // listener left, which would kill the process in the middle of the ordered shutdown.
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // A gateway worker whose primary is gone (killed with -9) stops too, rather than serve unsupervised.
  if (cluster.isWorker) process.on('disconnect', () => void shutdown('gateway primary gone'));

  // The first admin's sign-in, printed once the start is over (or failed): see admin-notice.ts.
  let adminNotice: string | undefined;
  try {
    // Web, worker and agent read and write artifacts: a store that cannot be used (a missing bucket, refused
    // credentials) stops the start here with one line that says why, not at the first upload.
    if (roles.web || roles.worker || roles.agent) log.info('artifact store ready', { where: await checkArtifactStore(env) });
    if (roles.web) adminNotice = await bootstrapAdmin(db, env);
    if (roles.agent) {
      const modelsDir = modelsDirFor(env);
      if (modelsDir) {
        const { registered, skipped } = await registerModelsDir(db, modelsDir);
        log.info('models directory registered', { models: registered.map((m) => m.name) });
        for (const s of skipped) log.warn('models directory: file skipped', { file: s.file, reason: s.reason });
      }
      const agent = await startAgent(db, env, { masterKey });
      stops.push(['agent', () => agent.stop()]);
    }
    // The gateway this process's web and worker call as the signed-in user: its own when it serves one.
    const configuredGateway = env.ENCLAVE_GATEWAY_URL ?? `http://127.0.0.1:${env.GATEWAY_PORT}`;
    let web: WebServer | undefined;
    if (roles.web) {
      // Knowledge bases' vector indexes are kept sealed beside the artifact directory and read back at the
      // next start instead of rebuilt from PostgreSQL (server/knowledge/vector-index.ts).
      configureVectorIndex({ dir: path.join(env.dataDir, 'knowledge-index') });
      stops.push(['vector indexes', () => flushVectorIndex()]);
      await ensureUiBuild();
      const gateway = roles.gateway ? createGateway({ db, env, masterKey, redis: redis() }) : undefined;
      if (gateway) stops.push(['gateway', () => gateway.close()]);
      web = await startWebServer({
        db,
        env,
        masterKey,
        port: env.PORT,
        host: env.HOST,
        gateway,
        gatewayUrl: roles.gateway ? `http://127.0.0.1:${env.PORT}` : configuredGateway,
      });
      stops.push(['web', () => web!.close()]);
    } else if (roles.gateway) {
      const gateway = await startGatewayServer({ db, env, masterKey, redis: redis(), port: env.GATEWAY_PORT, host: env.HOST, hardening: env });
      stops.push(['gateway', () => gateway.close()]);
    }
    if (roles.worker) {
      // Knowledge-base documents are embedded through the same gateway URL the web role uses (under TLS,
      // its plain loopback listener: the public port speaks HTTPS only), so started after it.
      const workers = await startWorkers(db, masterKey, web?.gatewayUrl ?? configuredGateway);
      stops.push(['worker', () => workers.stop()]);
    }
    const scheme = env.ENCLAVE_TLS_CERT ? 'https' : 'http';
    const where = web ? `${scheme}://localhost:${web.port}` : roles.gateway ? `${scheme}://localhost:${env.GATEWAY_PORT}` : undefined;
    const names = Object.entries(roles).filter(([, on]) => on).map(([n]) => n).join(', ');
    // A gateway worker's primary says it once for all of them.
    if (!cluster.isWorker) process.stdout.write(where ? `Enclave is ready on ${where} (${names})\n` : `Enclave ${names} is running\n`);
    if (adminNotice) process.stdout.write(adminNotice);
  } catch (e) {
    // The admin exists now: without its password nobody could sign in after the cause is fixed.
    if (adminNotice) process.stdout.write(adminNotice);
    process.stderr.write(`enclave: start failed: ${errorMessage(e)}\n`);
    await shutdown('start failure', 1);
  }
}
