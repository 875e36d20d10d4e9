/**
 * Slow and hoarding clients against Enclave's listener protections (finding 5 of issue 9), with the
 * settings a default install has: N half-sent POSTs (headers and a few bytes of a declared body, then
 * silence) from loopback, which is exempt from the per-client cap, and the same N from one other
 * address of this host, which is not. Prints one JSON line: how long until every half-sent request was
 * answered 408 and closed, and how many connections the capped address got.
 *   npm run bench:slow-clients -- [--clients 1000]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { parseEnv } from '../../server/core/env';
import { hardenServer } from '../../server/http/hardening';

const { values } = parseArgs({ options: { clients: { type: 'string', default: '1000' } } });
const clients = Number(values.clients);
const env = parseEnv({});

const server = http.createServer((req, res) => {
  guard.beforeRequest(req, res);
  // Every route reads its body before answering: a half-sent one never gets here.
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => res.end('{}'));
});
const guard = hardenServer(server, env);
await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
const port = (server.address() as AddressInfo).port;

/** Opens `n` half-sent POSTs from `localAddress`; resolves with when each closed and what it was told. */
async function halfSent(n: number, host: string, localAddress?: string) {
  const started = performance.now();
  const results = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<{ closedAfterMs: number; status: number | null }>((resolve) => {
          let answer = '';
          const socket = net.connect({ port, host, localAddress }, () =>
            socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"model":'),
          );
          socket.on('data', (d) => (answer += d));
          socket.on('error', () => {});
          socket.on('close', () => resolve({ closedAfterMs: performance.now() - started, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]) || null }));
        }),
    ),
  );
  const by = (s: number) => results.filter((r) => r.status === s).length;
  return { closedWithinMs: Math.round(Math.max(...results.map((r) => r.closedAfterMs))), timedOut408: by(408), refused429: by(429) };
}

const other = Object.values(os.networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
const loopback = await halfSent(clients, '127.0.0.1');
const capped = other ? await halfSent(clients, other, other) : null;
server.close();
process.stdout.write(
  `${JSON.stringify({
    clients,
    bodyIdleTimeoutMs: env.ENCLAVE_BODY_IDLE_TIMEOUT_MS,
    connectionCap: env.ENCLAVE_MAX_CONNECTIONS_PER_CLIENT,
    loopback,
    ...(capped ? { fromOneOtherAddress: { address: other, ...capped } } : { fromOneOtherAddress: 'no non-loopback IPv4 address on this host' }),
  })}\n`,
);
