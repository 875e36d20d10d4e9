import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Db } from '../../db/client';
import { parseEnv, type Env } from '../../env';
import { createUser } from '../../security/users';
import { createApiHandler } from '../http';

/**
 * The real API handler on a real port, for tests: the same code the web role mounts, minus Next.js.
 * `request` speaks like a browser page on this site (JSON, same Origin) unless told otherwise.
 */
export async function startApiTestServer(opts: { db: Db; masterKey: Buffer; gatewayUrl?: string; env?: Partial<Record<string, string>> }) {
  const env: Env = parseEnv({ ENCLAVE_SECURE_COOKIES: 'false', ...opts.env });
  const handler = createApiHandler({ db: opts.db, env, masterKey: opts.masterKey, gatewayUrl: opts.gatewayUrl ?? 'http://127.0.0.1:9' });
  const server = http.createServer((req, res) => {
    handler(req, res).then(
      (handled) => {
        if (!handled) res.writeHead(404).end();
      },
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function request(path: string, init: RequestInit & { cookie?: string } = {}) {
    const headers = new Headers(init.headers);
    if (init.cookie) headers.set('cookie', init.cookie);
    if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
    return fetch(base + path, { ...init, headers });
  }

  /** Calls a tRPC procedure the way @trpc/client's httpLink does (no batching), returning status and JSON. */
  async function trpc(kind: 'query' | 'mutation', path: string, input: unknown, cookie?: string, headers: Record<string, string> = {}) {
    const res =
      kind === 'query'
        ? await request(`/api/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`, { cookie, headers })
        : await request(`/api/trpc/${path}`, { method: 'POST', body: JSON.stringify(input ?? null), cookie, headers });
    const body = (await res.json()) as { result?: { data: any }; error?: { message: string; data: { code: string; httpStatus: number } } };
    return { status: res.status, data: body.result?.data, error: body.error, headers: res.headers };
  }

  /** Creates a user and signs in through the API; returns the cookie to send back. */
  async function userSession(role: string, password = 'correct horse battery') {
    const email = `${role}-${Math.random().toString(36).slice(2, 8)}@example.test`;
    const user = await createUser(opts.db, { email, password, role });
    const res = await trpc('mutation', 'auth.signIn', { email, password });
    if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${res.error?.message}`);
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    return { user, cookie, email, password };
  }

  return {
    base,
    env,
    request,
    trpc,
    userSession,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
