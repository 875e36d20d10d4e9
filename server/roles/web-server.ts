import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import next from 'next';
import type { Db } from '../db/client';
import type { Env } from '../core/env';
import { errorMessage, log } from '../core/log';
import { createApiHandler } from '../api/http';
import { PAGE_DECISION_HEADER } from './page-decision';
import { guardPage } from './page-guard';
import { hardenServer } from '../http/hardening';
import { handleHealth } from '../http/health';
import { handleMetrics } from '../http/metrics';
import { repoRoot } from '../http/next-build';
import { applySiteRules } from '../http/site-rules';
import { logRequest } from '../http/access-log';
import { createListener, loadTls, type TlsSettings } from '../http/tls';
import { loadCertificateAuthority } from '../security/certificates/ca';
import type { AgentTls } from '../fleet/nodes/node-certificates';
import { startAgentListener } from './agent-listener';
import { startGatewayLoopback } from './gateway-loopback';

export interface MountedGateway {
  handle(req: IncomingMessage, res: ServerResponse): void;
}

export interface WebServer {
  server: http.Server;
  port: number;
  /** The agents' mTLS listener's port, when TLS is on. */
  agentPort?: number;
  /** Where this process reaches the gateway as the signed-in user (with TLS and an in-process gateway, its loopback listener). */
  gatewayUrl: string;
  close(): Promise<void>;
}

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
  /** TLS for the listeners; unset: from env's ENCLAVE_TLS_* (plain HTTP when those are unset). */
  tls?: TlsSettings | null;
}): Promise<WebServer> {
  const tls = opts.tls !== undefined ? opts.tls : loadTls(opts.env);
  const closers: Array<() => Promise<void> | void> = [];
  if (opts.tls === undefined && tls) closers.push(() => tls.close());
  // With TLS: the agents' API requires their client certificates, issued by the install's CA.
  const agentTls: AgentTls | undefined = tls
    ? { ca: await loadCertificateAuthority(opts.db, opts.masterKey, opts.env), port: opts.env.ENCLAVE_AGENT_PORT, certLifetimeMs: opts.env.ENCLAVE_AGENT_CERT_DAYS * 86_400_000 }
    : undefined;
  let gatewayUrl = opts.gatewayUrl;
  if (tls && !opts.gateway && !opts.env.ENCLAVE_GATEWAY_URL) {
    // A gateway role started with the same settings speaks HTTPS only: the default plain URL cannot reach it.
    log.warn('TLS is on but ENCLAVE_GATEWAY_URL is unset: set it to https://<gateway host>:<port>, a name its certificate carries (NODE_EXTRA_CA_CERTS for a private CA)', { using: gatewayUrl });
  }
  if (tls && opts.gateway) {
    const loopback = await startGatewayLoopback(opts.gateway, opts.env);
    closers.push(() => loopback.close());
    gatewayUrl = loopback.url;
  }
  const nextApp = next({ dev: false, dir: repoRoot, hostname: opts.host, port: opts.port });
  await nextApp.prepare();
  const handleNext = nextApp.getRequestHandler();
  const api = createApiHandler({ db: opts.db, env: opts.env, masterKey: opts.masterKey, gatewayUrl, agentTls });

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const pathname = url.split('?')[0]!;
    if (pathname.startsWith('/v1/') || pathname === '/v1') {
      if (opts.gateway) return opts.gateway.handle(req, res);
    }
    // One JSON line per request (the gateway writes its own for /v1).
    logRequest(req, res, 'web', opts.env.ENCLAVE_TRUSTED_PROXIES);
    const page = pathname !== '/metrics' && !pathname.startsWith('/api/');
    if (!applySiteRules(req, res, opts.env, pathname, page ? 'page' : 'other')) return;
    if (pathname === '/metrics') return handleMetrics(req, res);
    if (pathname === '/api/health') return handleHealth(opts.db, req, res);
    if (pathname.startsWith('/api/')) {
      if (await api(req, res)) return;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `No API route ${pathname}`, code: 'NOT_FOUND' } }));
      return;
    }
    if (isAsset(pathname)) return handleNext(req, res);
    delete req.headers[PAGE_DECISION_HEADER];
    const decision = await guardPage(opts.db, req, pathname);
    if (decision.kind === 'redirect') {
      res.writeHead(302, { location: decision.location, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    if (decision.kind === 'not-found' || decision.kind === 'forbidden') {
      res.statusCode = decision.kind === 'not-found' ? 404 : 403;
      res.setHeader('cache-control', 'no-store');
      // Next renders app/not-found.tsx, which reads the header: a page the role may not open says "you do
      // not have access" (the page's existence is no secret); a missing page or someone else's
      // conversation says "not found", alike, so a conversation's existence is not revealed.
      req.headers[PAGE_DECISION_HEADER] = decision.kind;
      return nextApp.render404(req, res);
    }
    return handleNext(req, res);
  };

  // No Host header is refused by our own check (with a body that says so), not by Node's empty 400.
  const server = createListener((req, res) => {
    hardening.beforeRequest(req, res);
    route(req, res).catch((e) => {
      log.error('web request failed', { path: (req.url ?? '').split('?')[0], error: errorMessage(e) });
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'Internal error', code: 'INTERNAL_SERVER_ERROR' } }));
      } else res.destroy();
    });
  }, tls, { requireHostHeader: false });
  // Timeouts for receiving requests (never for streaming answers), the per-client connection cap, and
  // JSON answers for what Node's parser refuses.
  const hardening = hardenServer(server, opts.env);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let agentPort: number | undefined;
  if (tls && agentTls) {
    const agents = await startAgentListener({ env: opts.env, tls, ca: agentTls.ca, api, port: agentTls.port, host: opts.host });
    closers.unshift(() => agents.close());
    agentPort = agents.port;
  }
  return {
    server,
    port,
    agentPort,
    gatewayUrl,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Streams still open after a grace period are cut: shutdown must finish.
        setTimeout(() => server.closeAllConnections(), 3000).unref();
      });
      // The agents' listener, then the loopback gateway listener the chats just drained went through.
      for (const close of closers) await close();
      await nextApp.close().catch(() => {});
    },
  };
}
