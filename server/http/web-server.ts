import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import next from 'next';
import type { Db } from '../db/client';
import type { Env } from '../env';
import { errorMessage, log } from '../log';
import { createApiHandler } from '../api/http';
import { guardPage } from '../security/page-guard';
import { handleHealth } from './health';
import { handleMetrics } from './metrics';
import { repoRoot } from './next-build';

export interface MountedGateway {
  handle(req: IncomingMessage, res: ServerResponse): void;
}

export interface WebServer {
  server: http.Server;
  port: number;
  close(): Promise<void>;
}

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  // Nothing the browser loads may come from elsewhere: a private install never calls out, and model
  // output (say, a Markdown image) cannot make the browser reach another server. Next.js hydrates with
  // inline scripts, hence 'unsafe-inline' for scripts; nothing else is loosened.
  'content-security-policy':
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
};

function isAsset(pathname: string) {
  return pathname.startsWith('/_next/') || pathname === '/favicon.ico' || pathname === '/robots.txt';
}

/**
 * The web role's one HTTP server: /v1 goes to the gateway when mounted (enclave start), /api and
 * /metrics to Enclave's own handlers, pages to Next.js after the session and role checks.
 */
export async function startWebServer(opts: {
  db: Db;
  env: Env;
  masterKey: Buffer;
  port: number;
  host: string;
  gateway?: MountedGateway;
  gatewayUrl: string;
}): Promise<WebServer> {
  const nextApp = next({ dev: false, dir: repoRoot, hostname: opts.host, port: opts.port });
  await nextApp.prepare();
  const handleNext = nextApp.getRequestHandler();
  const api = createApiHandler({ db: opts.db, env: opts.env, masterKey: opts.masterKey, gatewayUrl: opts.gatewayUrl });

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const pathname = url.split('?')[0]!;
    if (pathname.startsWith('/v1/') || pathname === '/v1') {
      if (opts.gateway) return opts.gateway.handle(req, res);
    }
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    if (pathname === '/metrics') return handleMetrics(req, res);
    if (pathname === '/api/health') return handleHealth(opts.db, req, res);
    if (pathname.startsWith('/api/')) {
      if (await api(req, res)) return;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `No API route ${pathname}`, code: 'NOT_FOUND' } }));
      return;
    }
    if (isAsset(pathname)) return handleNext(req, res);
    const decision = await guardPage(opts.db, req, pathname);
    if (decision.kind === 'redirect') {
      res.writeHead(302, { location: decision.location, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    if (decision.kind === 'not-found' || decision.kind === 'forbidden') {
      res.statusCode = decision.kind === 'not-found' ? 404 : 403;
      res.setHeader('cache-control', 'no-store');
      // Next renders app/not-found.tsx; a forbidden page looks the same so it reveals nothing.
      return nextApp.render404(req, res);
    }
    return handleNext(req, res);
  };

  const server = http.createServer((req, res) => {
    route(req, res).catch((e) => {
      log.error('web request failed', { path: (req.url ?? '').split('?')[0], error: errorMessage(e) });
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'Internal error', code: 'INTERNAL_SERVER_ERROR' } }));
      } else res.destroy();
    });
  });
  // Long streams (chat, /v1) must not be cut by Node's default request timeout.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Streams still open after a grace period are cut: shutdown must finish.
        setTimeout(() => server.closeAllConnections(), 3000).unref();
      });
      await nextApp.close().catch(() => {});
    },
  };
}
