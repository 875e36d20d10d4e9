import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createDb } from '../../server/db/client';
import { parseEnv } from '../../server/core/env';
import { startGatewayServer } from '../../server/gateway/server';
import { decodeKey } from '../../server/security/master-key';
import { serveBenchChild } from './child';

/**
 * The real gateway in a process of its own, over the benchmark's database (DATABASE_URL, ENCLAVE_MASTER_KEY)
 * and Redis, as it runs in production: with Redis it hears of revoked keys and keeps serving known ones
 * from its cache; without, it would re-read every key each second.
 */
const db = createDb(process.env.DATABASE_URL!);
const env = parseEnv({ ...process.env, REDIS_PREFIX: `enclave-bench-${randomBytes(4).toString('hex')}` });
const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 2 });
const gateway = await startGatewayServer({ port: 0, host: '127.0.0.1', db, env, redis, masterKey: decodeKey(env.ENCLAVE_MASTER_KEY!), hardening: env });
await gateway.refresh();
serveBenchChild(gateway.port, async () => {
  await gateway.close();
  redis.disconnect();
  await db.$client.end();
});
