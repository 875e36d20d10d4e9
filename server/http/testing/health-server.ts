import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Db } from '../../db/client';
import type { Role } from '../../db/schema';
import { SESSION_COOKIE } from '../../security/cookies';
import { createSession } from '../../security/sessions';
import { makeUser } from '../../testing/factories';
import { handleHealth } from '../health';

/** The real /api/health handler on a real port, and sessions of any role to call it with. */
export async function startHealthServer(db: Db) {
  const server = http.createServer((req, res) => void handleHealth(db, req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/health`;
  return {
    async get(cookie?: string) {
      const res = await fetch(url, { headers: cookie ? { cookie } : {} });
      return { status: res.status, text: await res.text(), cacheControl: res.headers.get('cache-control') };
    },
    async cookieFor(role: Role) {
      const user = await makeUser(db, { role });
      return `${SESSION_COOKIE}=${(await createSession(db, user.id, { hours: 1 })).token}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
