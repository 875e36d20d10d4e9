import http from 'node:http';
import https from 'node:https';
import { guardedAgents } from './agents';
import { OutboundRefused, hostOf, outboundPolicy, type OutboundPolicy } from './policy';

export const NO_HTTP_ANSWER = 'could not connect, or no valid HTTP answer in time';

/**
 * Any failure to get an HTTP answer: refused connection, reset, silence, a TLS or DNS failure, bytes that
 * are not HTTP. One message for all, so a caller cannot tell a closed port from a filtered one or from a
 * service that speaks something else; `detail` keeps the cause for this process only.
 */
export class OutboundFailed extends Error {
  constructor(readonly detail: string) {
    super(NO_HTTP_ANSWER);
    this.name = 'OutboundFailed';
  }
}

export interface OutboundAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body was longer than maxBodyBytes and cut there (only with overflow: 'cut'). */
  truncated?: boolean;
}

export interface OutboundInit {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
  /** Bytes of the answer kept; more fails the call. 0: the body is read and dropped. */
  maxBodyBytes?: number;
  /** Past maxBodyBytes: 'fail' the call (the default), or 'cut' the body there and answer with what came. */
  overflow?: 'fail' | 'cut';
  signal?: AbortSignal;
}

/**
 * One request to a URL someone gave Enclave, under the outbound policy (checked on the URL, then on each
 * address connected to). Redirects are never followed: a 3xx is the answer, so credentials sent with the
 * request cannot be carried to another origin. Throws OutboundRefused, OutboundFailed, or the signal's
 * reason when it aborts.
 */
export function outboundRequest(target: string, init: OutboundInit, policy: OutboundPolicy = outboundPolicy()): Promise<OutboundAnswer> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return reject(new OutboundRefused('not a valid URL'));
    }
    const why = policy.checkUrl(url);
    if (why) return reject(new OutboundRefused(why));
    if (init.signal?.aborted) return reject(init.signal.reason);
    const secure = url.protocol === 'https:';
    const agents = guardedAgents(policy);
    const headers: Record<string, string> = { ...init.headers };
    if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      init.signal?.removeEventListener('abort', onAbort);
      req.destroy();
      reject(err);
    };
    const done = (res: http.IncomingMessage, chunks: Buffer[], truncated: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      init.signal?.removeEventListener('abort', onAbort);
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ...(truncated ? { truncated } : {}) });
      // What is left of a cut body is not wanted: the connection goes rather than draining it.
      if (truncated) req.destroy();
    };
    const req = (secure ? https : http).request({
      agent: secure ? agents.https : agents.http,
      hostname: hostOf(url.hostname),
      port: url.port || undefined,
      path: url.pathname + url.search,
      method: init.method ?? 'GET',
      headers,
      // A user name and password in a webhook URL are Basic credentials, as every HTTP client reads them.
      auth: url.username || url.password ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` : undefined,
    });
    const timer = setTimeout(() => fail(new OutboundFailed('timeout')), init.timeoutMs);
    const onAbort = () => fail(init.signal!.reason as Error);
    init.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err: NodeJS.ErrnoException) => fail(err instanceof OutboundRefused ? err : new OutboundFailed(err.code ?? err.message)));
    req.on('response', (res) => {
      const max = init.maxBodyBytes ?? 1024 * 1024;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (max === 0) return;
        size += chunk.length;
        if (size > max && init.overflow === 'cut') {
          chunks.push(chunk.subarray(0, chunk.length - (size - max)));
          return done(res, chunks, true);
        }
        if (size > max) return fail(new OutboundFailed('answer too large'));
        chunks.push(chunk);
      });
      res.on('error', (err: NodeJS.ErrnoException) => fail(new OutboundFailed(err.code ?? err.message)));
      res.on('end', () => done(res, chunks, false));
    });
    req.end(init.body);
  });
}
