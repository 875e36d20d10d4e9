import { randomBytes } from 'node:crypto';
import { parseEnv } from '../../core/env';
import { serverSentEvents } from '../../core/sse';
import { createApiKey } from '../../security/api-keys';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeUser } from '../../testing/factories';
import type { Role } from '../../db/schema';
import { startGatewayServer, type GatewayServer } from '../server';

/**
 * A real gateway server on a random port over a fresh test database, for the gateway's test files.
 * Short cache and refresh times keep tests quick without changing what is exercised. Request logs are
 * written when a test asks (gateway.flushLogs()): the writer's own timer is set far out, so a test
 * that reads them without asking fails every time rather than now and then.
 */
export interface GatewayHarness {
  t: TestDatabase;
  gateway: GatewayServer;
  masterKey: Buffer;
  /** A user with a fresh API key. */
  keyFor(role?: Role, models?: string[] | null): Promise<{ userId: string; key: string; keyId: string }>;
  post(path: string, body: unknown, key: string, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export async function startGatewayHarness(
  label: string,
  env: Record<string, string> = {},
  extra: Partial<Parameters<typeof startGatewayServer>[0]> = {},
): Promise<GatewayHarness> {
  const t = await createTestDatabase(label);
  const masterKey = randomBytes(32);
  const gateway = await startGatewayServer({
    port: 0,
    host: '127.0.0.1',
    db: t.db,
    env: parseEnv({ ENCLAVE_DATA_DIR: '/tmp/enclave-gateway-test', ...env }),
    masterKey,
    routingRefreshMs: 200,
    authCacheMs: 200,
    logFlushMs: 60_000,
    ...extra,
  });
  return {
    t,
    gateway,
    masterKey,
    async keyFor(role = 'user', models = null) {
      const user = await makeUser(t.db, { role });
      const { id, key } = await createApiKey(t.db, { userId: user.id, name: 'test', models });
      return { userId: user.id, key, keyId: id };
    },
    post(path, body, key, headers = {}) {
      return fetch(gateway.url + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    },
    async close() {
      await gateway.close();
      await t.drop();
    },
  };
}

/** Reads an SSE response into its data payloads, with the time each arrived (ms after `start`). */
export async function readEvents(res: Response, start = performance.now()): Promise<{ data: string; at: number }[]> {
  const events: { data: string; at: number }[] = [];
  for await (const event of serverSentEvents(res.body!)) events.push({ data: event.data, at: performance.now() - start });
  return events;
}
