import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseEnv } from '../core/env';
import { hardenServer, type HardeningSettings } from '../http/hardening';
import { createListener, loadTls, type TlsEnv, type TlsSettings } from '../http/tls';
import { metricsText } from '../core/metrics';
import { errorBody } from './errors';
import { createGateway, type GatewayOptions } from './gateway';

/** The listener settings' defaults, for callers (tests, benchmarks) that pass none. */
function hardeningDefaults(): HardeningSettings & TlsEnv {
  return parseEnv({});
}

export interface GatewayServer {
  port: number;
  url: string;
  server: http.Server;
  /** Reloads deployments and replicas now (after a deploy, or in tests). */
  refresh(): Promise<void>;
  /** Writes the request logs buffered so far (for tests that read them right after a request). */
  flushLogs(): Promise<void>;
  /** Stops accepting, ends open connections, flushes request logs. */
  close(): Promise<void>;
}

/**
 * The standalone `gateway` role: /v1/* through the gateway, plus /health and /metrics for the
 * orchestrator. Plain node:http, so nothing but the gateway's own work sits on the hot path.
 */
export async function startGatewayServer(
  opts: GatewayOptions & {
    port: number;
    host?: string;
    hardening?: HardeningSettings & TlsEnv;
    exemptFromConnectionCap?: (address: string) => boolean;
    /** TLS for the listener; unset: from `hardening`'s ENCLAVE_TLS_* (plain HTTP when those are unset). */
    tls?: TlsSettings | null;
  },
): Promise<GatewayServer> {
  const gateway = createGateway(opts);
  // No Host header is no concern of the gateway's: Node would answer it with an empty 400.
  // HTTPS when ENCLAVE_TLS_CERT/KEY are set (checked here, at start; reloaded when the files change).
  const tls = opts.tls !== undefined ? opts.tls : loadTls(opts.hardening ?? hardeningDefaults());
  const server = createListener((req, res) => {
    hardening.beforeRequest(req, res);
    const url = req.url ?? '';
    if (url.startsWith('/v1/')) return gateway.handle(req, res);
    if (url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end('{"status":"ok"}');
    }
    if (url === '/metrics') {
      return void metricsText().then(
        ({ contentType, text }) => {
          res.writeHead(200, { 'content-type': contentType });
          res.end(text);
        },
        () => {
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end('metrics unavailable: the gateway primary did not answer\n');
        },
      );
    }
    const body = errorBody('invalid_request_error', 'unknown_url', `Unknown endpoint: ${req.method} ${url.split('?')[0]}`);
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }, tls, { noDelay: true, keepAliveTimeout: 65_000, requireHostHeader: false });
  // Timeouts for receiving requests, the per-client connection cap, JSON answers for parser refusals.
  const hardening = hardenServer(server, opts.hardening ?? hardeningDefaults(), { exemptFromCap: opts.exemptFromConnectionCap });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    server,
    refresh: () => gateway.refresh(),
    flushLogs: () => gateway.flushLogs(),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (opts.tls === undefined) tls?.close();
      await gateway.close();
    },
  };
}
