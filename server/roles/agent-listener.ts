import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Env } from '../core/env';
import { errorMessage, log } from '../core/log';
import { hardenServer, errorJson } from '../http/hardening';
import { createListener, type TlsSettings } from '../http/tls';
import type { CertificateAuthority } from '../security/certificates/ca';

/**
 * The agents' mTLS listener (ENCLAVE_AGENT_PORT), started by the web role when TLS is configured.
 *
 * Why a port of its own rather than asking for client certificates on the web listener: a listener that
 * requests a certificate makes browsers offer (or prompt for) their own, TLS 1.3 cannot ask for one later
 * for /api/agent paths only, and a load balancer in front of the web port would end the TLS that carries
 * the certificate. Here the handshake itself refuses a peer without a certificate of this install's CA
 * (or with an expired one), so nothing unauthenticated reaches the HTTP parser; the request then checks
 * the serial against the database (revoked, another node's) and the Bearer credential, in agent-http.ts.
 * Only /api/agent/* is served; the join stays on the web listener (a new agent has no certificate yet).
 */
export interface AgentListener {
  port: number;
  server: http.Server;
  close(): Promise<void>;
}

export async function startAgentListener(opts: {
  env: Pick<Env, 'ENCLAVE_TRUSTED_PROXIES' | 'ENCLAVE_MAX_CONNECTIONS_PER_CLIENT' | 'ENCLAVE_HEADERS_TIMEOUT_MS' | 'ENCLAVE_BODY_TIMEOUT_MS' | 'ENCLAVE_BODY_IDLE_TIMEOUT_MS'>;
  tls: TlsSettings;
  ca: CertificateAuthority;
  api: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>;
  port: number;
  host: string;
}): Promise<AgentListener> {
  const refuse = (res: http.ServerResponse, status: number, code: string, message: string) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(errorJson(status, code, message));
  };
  const server = createListener(
    (req, res) => {
      hardening.beforeRequest(req, res);
      const pathname = (req.url ?? '/').split('?')[0]!;
      if (!pathname.startsWith('/api/agent/') || pathname === '/api/agent/join') {
        return refuse(res, 404, 'not_found', `Only the agents' API is served here (the join is on the web port): no route ${pathname}`);
      }
      opts.api(req, res).then(
        (handled) => {
          if (!handled) refuse(res, 404, 'not_found', `No agent API route ${pathname}`);
        },
        (e) => {
          log.error('agent API request failed', { path: pathname, error: errorMessage(e) });
          if (!res.headersSent) refuse(res, 500, 'internal_error', 'Internal error');
          else res.destroy();
        },
      );
    },
    opts.tls,
    { requireHostHeader: false, clientCa: () => [opts.ca.certPem] },
  );
  const hardening = hardenServer(server, opts.env);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
