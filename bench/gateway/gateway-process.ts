import { createDb } from '../../server/db/client';
import { parseEnv } from '../../server/env';
import { startGatewayServer } from '../../server/gateway/server';
import { decodeKey } from '../../server/security/master-key';
import { serveBenchChild } from './child';

/** The real gateway in a process of its own, over the benchmark's database (DATABASE_URL, ENCLAVE_MASTER_KEY). */
const db = createDb(process.env.DATABASE_URL!);
const env = parseEnv();
const gateway = await startGatewayServer({ port: 0, host: '127.0.0.1', db, env, masterKey: decodeKey(env.ENCLAVE_MASTER_KEY!) });
await gateway.refresh();
serveBenchChild(gateway.port, async () => {
  await gateway.close();
  await db.$client.end();
});
