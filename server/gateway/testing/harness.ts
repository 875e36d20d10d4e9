import { randomBytes } from 'node:crypto';
import { parseEnv } from '../../env';
import { createApiKey } from '../../security/api-keys';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeUser } from '../../testing/factories';
import type { Role } from '../../db/schema';
import { startGatewayServer, type GatewayServer } from '../server';
import type { GatewayOptions } from '../gateway';

/**
 * A real gateway server on a random port over a fresh test database, for the gateway's test files.
 * Short cache and refresh times keep tests quick without changing what is exercised.
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
  extra: Partial<GatewayOptions> = {},
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
    logFlushMs: 50,
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
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let i: number;
    while ((i = buffered.indexOf('\n\n')) !== -1) {
      const event = buffered.slice(0, i);
      buffered = buffered.slice(i + 2);
      if (event.startsWith('data: ')) events.push({ data: event.slice(6), at: performance.now() - start });
    }
  }
  return events;
}
