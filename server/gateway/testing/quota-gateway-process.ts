import { Redis } from 'ioredis';
import { serveBenchChild } from '../../../bench/gateway/child';
import { parseEnv } from '../../core/env';
import { createDb } from '../../db/client';
import { decodeKey } from '../../security/master-key';
import { startGatewayServer } from '../server';

/**
 * A real gateway in a process of its own for the quota tests: DATABASE_URL, ENCLAVE_MASTER_KEY and
 * REDIS_PREFIX come from the test, so two of these share one database and one set of Redis counters,
 * as two gateway replicas do in production. Quota rows reload every QUOTA_REFRESH_MS.
 */
const db = createDb(process.env.DATABASE_URL!);
const env = parseEnv(process.env);
const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 2 });
const gateway = await startGatewayServer({
  port: 0,
  host: '127.0.0.1',
  db,
  env,
  redis,
  masterKey: decodeKey(env.ENCLAVE_MASTER_KEY!),
  hardening: env,
  routingRefreshMs: 200,
  authCacheMs: 200,
  quotaRefreshMs: Number(process.env.QUOTA_REFRESH_MS ?? 200),
});
await gateway.refresh();
serveBenchChild(gateway.port, async () => {
  await gateway.close();
  redis.disconnect();
  await db.$client.end();
});
