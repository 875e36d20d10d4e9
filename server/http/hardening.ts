import type http from 'node:http';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { inList, isLoopback, normalizeAddress, parseAddressList } from '../core/net/address-list';
import { identifyClient } from '../security/client-address';
import { hstsOf } from './tls';

export interface HardeningSettings {
  ENCLAVE_TRUSTED_PROXIES?: string;
  ENCLAVE_MAX_CONNECTIONS_PER_CLIENT: number;
  ENCLAVE_HEADERS_TIMEOUT_MS: number;
  ENCLAVE_BODY_TIMEOUT_MS: number;
  ENCLAVE_BODY_IDLE_TIMEOUT_MS: number;
}

/** The JSON every listener-level refusal carries: OpenAI's error object, which the web API's readers also take. */
export function errorJson(status: number, code: string, message: string): string {
  return JSON.stringify({ error: { message, type: status >= 500 ? 'api_error' : 'invalid_request_error', param: null, code, status } });
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  417: 'Expectation Failed',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  503: 'Service Unavailable',
};

/** Writes a whole HTTP/1.1 error response on a raw socket (before or instead of Node's request handling) and closes it. */
export function writeRawError(socket: Socket, status: number, code: string, message: string, extra: Record<string, string> = {}): void {
  if (socket.destroyed || !socket.writable) return void socket.destroy();
  const body = errorJson(status, code, message);
  const headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), connection: 'close', 'cache-control': 'no-store', ...extra };
  const head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  socket.end(head + body);
  // A peer that never reads must not keep the socket: give the answer a moment, then let go.
  setTimeout(() => socket.destroy(), 2_000).unref();
}

/** What Node's HTTP parser refused, as a status and a message a person can act on. */
function parserRefusal(err: NodeJS.ErrnoException): [number, string, string] {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'request_header_too_large', 'The request headers are too large'];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'request_too_large', 'The chunk extensions of the request body are too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'request_timeout', 'The request did not arrive in time'];
    case 'HPE_INVALID_METHOD':
      return [400, 'malformed_request', 'The request line does not start with an HTTP method Enclave knows'];
    default:
      return [400, 'malformed_request', `The HTTP request is malformed (${err.code ?? 'parse error'})`];
  }
}

type BodyWatch = { req: http.IncomingMessage; res: http.ServerResponse; deadline: number; idleMs: number; lastBytes: number; lastProgress: number };
const WATCH = Symbol('enclave.bodyWatch');
type Watched = http.IncomingMessage & { [WATCH]?: BodyWatch };

function hasBody(req: http.IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Requests whose bodies are still arriving, checked once a second: the whole body must arrive by its
 * deadline, and the client may not pause longer than the idle limit. Progress is read from the
 * socket's byte count, so watching adds no 'data' listener (which would start the stream flowing
 * before its reader is ready); a body waiting in our own buffer is our slowness, not the client's.
 * Node's requestTimeout cannot be set per route (an upload needs far longer than a chat turn), so it
 * is off and this replaces it. Receiving the request is bounded here, never streaming the answer.
 */
class BodyWatcher {
  private readonly watched = new Set<BodyWatch>();
  private timer: NodeJS.Timeout | undefined;

  watch(req: http.IncomingMessage, res: http.ServerResponse, totalMs: number, idleMs: number) {
    if (!hasBody(req)) return;
    const now = Date.now();
    const w: BodyWatch = { req, res, deadline: now + totalMs, idleMs, lastBytes: req.socket.bytesRead, lastProgress: now };
    (req as Watched)[WATCH] = w;
    this.watched.add(w);
    const done = () => this.unwatch(w);
    req.once('end', done);
    req.once('close', done);
    this.timer ??= setInterval(() => this.check(), 1_000).unref();
  }

  unwatch(w: BodyWatch) {
    this.watched.delete(w);
    (w.req as Watched)[WATCH] = undefined;
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private check() {
    const now = Date.now();
    for (const w of this.watched) {
      const { req } = w;
      if (req.complete || req.destroyed) {
        this.unwatch(w);
        continue;
      }
      const bytes = req.socket.bytesRead;
      if (bytes !== w.lastBytes || req.readableLength > 0) {
        w.lastBytes = bytes;
        w.lastProgress = now;
      }
      if (now >= w.deadline) this.timeOut(w, 'The request body did not arrive in time');
      else if (now - w.lastProgress >= w.idleMs) this.timeOut(w, `The request body stalled for more than ${Math.round(w.idleMs / 1000)} s`);
    }
  }

  private timeOut(w: BodyWatch, message: string) {
    this.unwatch(w);
    const { req, res } = w;
    if (!res.headersSent && !res.destroyed) {
      const body = errorJson(408, 'request_timeout', message);
      res.writeHead(408, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
      res.end(body);
    }
    // The rest of a body that stalls will not come: the connection goes.
    setTimeout(() => req.socket.destroy(), 1_000).unref();
  }
}

/** Gives this request's body longer than the listener's default (a dataset upload). */
export function extendBodyDeadline(req: http.IncomingMessage, totalMs: number): void {
  const w = (req as Watched)[WATCH];
  if (w) w.deadline = Date.now() + totalMs;
}

/**
 * The protections every Enclave listener (web, gateway) has:
 * - headers must arrive within ENCLAVE_HEADERS_TIMEOUT_MS, bodies within the body timeouts (see
 *   BodyWatcher, started by `beforeRequest`);
 * - at most ENCLAVE_MAX_CONNECTIONS_PER_CLIENT open connections per client address (loopback and
 *   trusted proxies exempt: a proxy carries everyone's connections), refused with a 429;
 * - what Node's own HTTP parser refuses (malformed requests, oversized headers, a bad Expect, CONNECT)
 *   is answered with a JSON body saying what was wrong, instead of an empty response.
 * `beforeRequest` must be called first thing for every request: it identifies the client (trusted
 * proxy headers) and starts the body watch.
 */
export function hardenServer(
  server: http.Server,
  settings: HardeningSettings,
  opts: { exemptFromCap?: (address: string) => boolean } = {},
): { beforeRequest(req: http.IncomingMessage, res: http.ServerResponse): void } {
  const proxies = settings.ENCLAVE_TRUSTED_PROXIES ? parseAddressList(settings.ENCLAVE_TRUSTED_PROXIES, 'ENCLAVE_TRUSTED_PROXIES') : null;
  const exempt = opts.exemptFromCap ?? ((address: string) => isLoopback(address) || (proxies !== null && inList(proxies, address)));
  server.headersTimeout = settings.ENCLAVE_HEADERS_TIMEOUT_MS;
  server.requestTimeout = 0;
  // Idle keep-alive connections longer than a load balancer's (60 s), so it never reuses one being closed.
  server.keepAliveTimeout = 65_000;

  const perClient = new Map<string, number>();
  const cap = settings.ENCLAVE_MAX_CONNECTIONS_PER_CLIENT;
  // An HTTPS listener's raw answers go through TLS (a 429 written on the bare TCP socket would reach the
  // client as a broken handshake), and carry its HSTS header like every other answer.
  const secure = server instanceof tls.Server;
  const hsts = hstsOf(server);
  const rawError = (socket: Socket, status: number, code: string, message: string, extra: Record<string, string> = {}) =>
    writeRawError(socket, status, code, message, hsts ? { ...extra, 'strict-transport-security': hsts } : extra);
  server.on(secure ? 'secureConnection' : 'connection', (socket: Socket) => {
    const address = normalizeAddress(socket.remoteAddress ?? 'unknown');
    if (cap === 0 || exempt(address)) return;
    const open = (perClient.get(address) ?? 0) + 1;
    if (open > cap) {
      // Said in HTTP so a client sees why; the slot is never taken.
      rawError(socket, 429, 'too_many_connections', `Too many open connections from ${address} (at most ${cap})`, { 'retry-after': '5' });
      return;
    }
    perClient.set(address, open);
    socket.once('close', () => {
      const left = (perClient.get(address) ?? 1) - 1;
      if (left <= 0) perClient.delete(address);
      else perClient.set(address, left);
    });
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // A reset by the peer has nobody left to answer.
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const [status, code, message] = parserRefusal(err);
    rawError(socket, status, code, message);
  });
  server.on('checkExpectation', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    const body = errorJson(417, 'expectation_failed', 'Only "Expect: 100-continue" is supported');
    if (hsts) res.setHeader('strict-transport-security', hsts);
    res.writeHead(417, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  });
  server.on('connect', (_req: http.IncomingMessage, socket: Socket) => {
    rawError(socket, 405, 'method_not_allowed', 'CONNECT is not supported: this is not a proxy', { allow: 'GET, POST' });
  });

  const bodies = new BodyWatcher();
  return {
    beforeRequest(req, res) {
      identifyClient(req, proxies);
      bodies.watch(req, res, settings.ENCLAVE_BODY_TIMEOUT_MS, settings.ENCLAVE_BODY_IDLE_TIMEOUT_MS);
    },
  };
}
