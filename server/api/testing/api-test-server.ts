import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Db } from '../../db/client';
import { parseEnv, type Env } from '../../core/env';
import { createUser } from '../../security/users';
import { hardenServer } from '../../http/hardening';
import { applySiteRules } from '../../http/site-rules';
import { createApiHandler } from '../http';
import { transformer } from '../transformer';
import { callStreamed } from './stream-client';

/**
 * The real API handler on a real port, for tests: the same code the web role mounts, minus Next.js.
 * `request` speaks like a browser page on this site (JSON, same Origin) unless told otherwise.
 */
export async function startApiTestServer(opts: { db: Db; masterKey: Buffer; gatewayUrl?: string; env?: Partial<Record<string, string>> }) {
  // Audit checkpoints of its own: a shared folder would hold checkpoints of other tests' databases.
  const anchorDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-api-anchors-'));
  // Titles stay the first message's unless a test asks for the model's (an extra request to the engine).
  const env: Env = parseEnv({ ENCLAVE_SECURE_COOKIES: 'false', ENCLAVE_AUDIT_ANCHOR_DIR: anchorDir, ENCLAVE_CHAT_TITLES: 'first-message', ...opts.env });
  const handler = createApiHandler({ db: opts.db, env, masterKey: opts.masterKey, gatewayUrl: opts.gatewayUrl ?? 'http://127.0.0.1:9' });
  // The web listener's own protections and site rules (see web-server.ts), so tests meet what clients meet.
  const server = http.createServer({ requireHostHeader: false }, (req, res) => {
    hardening.beforeRequest(req, res);
    const pathname = (req.url ?? '/').split('?')[0]!;
    if (!applySiteRules(req, res, env, pathname, 'other')) return;
    handler(req, res).then(
      (handled) => {
        if (!handled) res.writeHead(404).end();
      },
      () => res.writeHead(500).end(),
    );
  });
  const hardening = hardenServer(server, env);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function request(path: string, init: RequestInit & { cookie?: string } = {}) {
    const headers = new Headers(init.headers);
    if (init.cookie) headers.set('cookie', init.cookie);
    if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
    return fetch(base + path, { ...init, headers });
  }

  /**
   * Calls a tRPC procedure the way @trpc/client's httpLink does (no batching), returning status, the
   * answer as the client decodes it (superjson: dates are Dates) and the error. A subscription is read up
   * to its first event; its status is the one a refusal carries (the stream itself is always a 200).
   */
  async function trpc(kind: 'query' | 'mutation', path: string, input: unknown, cookie?: string, headers: Record<string, string> = {}) {
    const res =
      kind === 'query'
        ? await request(`/api/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`, { cookie, headers })
        : await request(`/api/trpc/${path}`, { method: 'POST', body: JSON.stringify(input ?? null), cookie, headers });
    if (res.headers.get('content-type')?.startsWith('text/event-stream')) return firstEvent(res);
    const body = (await res.json()) as { result?: { data: unknown }; error?: { message: string; data: { code: string; httpStatus: number } } };
    return { status: res.status, data: transformer.output.deserialize(body.result?.data) as any, error: body.error, headers: res.headers };
  }

  /** A tRPC subscription's first event that is data or an error (its `connected` event skipped); the stream is then closed. */
  async function firstEvent(res: Response) {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return { status: res.status, data: undefined, error: undefined, headers: res.headers };
        buffer += value;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data === undefined || event === 'connected' || event === 'ping') continue;
          const parsed = transformer.output.deserialize(JSON.parse(data)) as any;
          if (event === 'serialized-error') return { status: parsed.data.httpStatus as number, data: undefined, error: parsed, headers: res.headers };
          return { status: res.status, data: parsed, error: undefined, headers: res.headers };
        }
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }

  /** Calls a streamed procedure (chat.send, arena.start) as the browser does: see callStreamed. */
  const stream = (path: 'chat.send' | 'arena.start', input: unknown, opts: Parameters<typeof callStreamed>[3] = {}) => callStreamed(base, path, input, opts);

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
    stream,
    userSession,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }).finally(() => fs.rmSync(anchorDir, { recursive: true, force: true })),
  };
}
