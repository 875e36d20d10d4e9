import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorJson, hardenServer, type HardeningSettings } from '../http/hardening';

/**
 * In `enclave start` the web role calls the gateway it hosts (chat, arena) by URL. With TLS on, that URL
 * cannot be the web listener's own https://127.0.0.1 (its certificate names the public host, not
 * 127.0.0.1, and Node's fetch takes no per-call CA), so the in-process gateway also gets this listener:
 * plain HTTP bound to 127.0.0.1 on a port the system picks, /v1 only. Nothing crosses the network, and
 * every request still needs the internal token or a key, exactly as on the public port.
 */
export async function startGatewayLoopback(
  gateway: { handle(req: http.IncomingMessage, res: http.ServerResponse): void },
  settings: HardeningSettings,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer({ requireHostHeader: false, noDelay: true }, (req, res) => {
    hardening.beforeRequest(req, res);
    const url = req.url ?? '';
    if (url.startsWith('/v1/')) return gateway.handle(req, res);
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(errorJson(404, 'unknown_url', 'Only /v1 is served on the loopback gateway listener'));
  });
  const hardening = hardenServer(server, settings);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
