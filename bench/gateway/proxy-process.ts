import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveBenchChild } from './child';

/**
 * The floor for any Node gateway: node:http piping bytes to one upstream and back, with keep-alive and
 * nothing parsed. Argv: the upstream base URL.
 */
const target = new URL(process.argv[2]!);
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const server = http.createServer({ noDelay: true }, (req, res) => {
  const upstream = http.request(
    { agent, hostname: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  res.on('close', () => upstream.destroy());
  req.pipe(upstream);
});
server.listen(0, '127.0.0.1', () => {
  serveBenchChild((server.address() as AddressInfo).port, async () => {
    server.closeAllConnections();
    server.close();
  });
});
