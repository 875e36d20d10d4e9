import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { Redis } from 'ioredis';
import { createDb } from '../../server/db/client';
import { parseEnv } from '../../server/core/env';
import { startGatewayServer } from '../../server/gateway/server';
import { superviseWorkers } from '../../server/roles/gateway-cluster';
import { decodeKey } from '../../server/security/master-key';
import { serveBenchChild } from './child';

/**
 * The gateway as `enclave gateway` runs it with GATEWAY_WORKERS=N (argv[2]): the production supervisor
 * (superviseWorkers) forking N real gateways that share one port. The primary speaks the benchmark's
 * protocol; its CPU figure is its own (it accepts every connection and hands it on) plus every worker's.
 */
if (cluster.isPrimary) {
  const count = Number(process.argv[2] ?? 2);
  const supervisor = superviseWorkers(count, { REDIS_PREFIX: `enclave-bench-${randomBytes(4).toString('hex')}` });
  const port = await supervisor.listening;
  const ticksMs = (pid: number) => {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  };
  // In the child protocol's unit (process.cpuUsage() microseconds): the primary's own and every worker's.
  const cpu = () => {
    const mine = process.cpuUsage();
    const workersMs = supervisor.workers().reduce((sum, w) => sum + ticksMs(w.process.pid!), 0);
    return { user: mine.user + workersMs * 1000, system: mine.system };
  };
  serveBenchChild(port, () => supervisor.stop(5_000), cpu);
} else {
  const db = createDb(process.env.DATABASE_URL!);
  const env = parseEnv(process.env);
  const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 2 });
  const gateway = await startGatewayServer({ port: 0, host: '127.0.0.1', db, env, redis, masterKey: decodeKey(env.ENCLAVE_MASTER_KEY!), hardening: env });
  await gateway.refresh();
  const stop = async () => {
    await gateway.close().catch(() => {});
    redis.disconnect();
    await db.$client.end().catch(() => {});
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('disconnect', () => void stop());
}
