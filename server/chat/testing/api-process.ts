import { startApiTestServer } from '../../api/testing/api-test-server';
import { createDb } from '../../db/client';

/**
 * The real API handler in a process of its own (forked by api-process-handle.ts), so a test can
 * kill -9 it in the middle of a stream as a crash would. Reads its database, master key, gateway and
 * reply lease from the environment and sends its base URL to the parent once it listens.
 */
const db = createDb(process.env.DATABASE_URL!, 4);
const api = await startApiTestServer({
  db,
  masterKey: Buffer.from(process.env.TEST_MASTER_KEY_HEX!, 'hex'),
  gatewayUrl: process.env.TEST_GATEWAY_URL,
  env: { ENCLAVE_REPLY_LEASE_MS: process.env.ENCLAVE_REPLY_LEASE_MS },
});
process.send!({ base: api.base });
