import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Caller } from './auth';
import { errorBody } from './errors';
import { pickReplica, type Replica, type Route } from './routing-table';
import { completeEventsEnd, containsToken, findUsageEvent, usageOfBody, type Usage } from './sse';

/** One request on its way to an engine. */
export interface Exchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  /** performance.now() when the request arrived. */
  t0: number;
  route: Route;
  caller: Caller;
  /** '/v1/chat/completions' or '/v1/completions'. */
  path: string;
  /** The body to send upstream (already validated; usage requested for streams). */
  body: Buffer;
  stream: boolean;
  /** The client did not ask for usage, so the usage-only event the gateway asked for is removed. */
  stripUsage: boolean;
}

export interface Outcome extends Usage {
  status: number;
  errorType: string | null;
  replicaId: string | null;
  retries: number;
  ttftMs: number | null;
  e2eMs: number;
  overheadMs: number;
}

export interface ForwardOptions {
  agent: http.Agent;
  firstTokenTimeoutMs: number;
  requestTimeoutMs: number;
  onDone(x: Exchange, outcome: Outcome): void;
}

interface Failure {
  status: number;
  code: string;
  body: Buffer | null;
  contentType: string | undefined;
}

const RETRYABLE_STALE = new Set(['ECONNRESET', 'EPIPE']);

/**
 * Sends a request to the least-busy ready replica and relays the answer. A connect error or a 5xx before
 * anything reached the client moves on to another replica (each tried once). Streams are relayed chunk
 * by chunk as they arrive; the client's headers go out with the first chunk, so a first-token timeout or
 * an upstream failure before it can still be answered with a proper status.
 */
export function forward(x: Exchange, opts: ForwardOptions): void {
  let tried: Set<string> | null = null;
  let retries = 0;
  let replica: Replica | undefined;
  let holding = false;
  let upstream: http.ClientRequest | undefined;
  let upstreamRes: http.IncomingMessage | undefined;
  let staleRetried = false;
  let done = false;
  let preForwardMs = -1;
  let overheadMs = 0;
  let ttftMs: number | null = null;
  let usage: Usage = { promptTokens: null, completionTokens: null };
  let usageSeen = false;
  let pending: Buffer | null = null;
  let lastFailure: Failure | null = null;
  let firstTokenTimer: NodeJS.Timeout | undefined;
  const requestTimer = setTimeout(() => timedOut('request_timeout'), Math.max(1, opts.requestTimeoutMs - (performance.now() - x.t0)));

  x.res.on('close', onClientClose);
  attempt(false);

  function release() {
    if (holding) {
      replica!.outstanding--;
      holding = false;
    }
  }

  function attempt(sameReplica: boolean) {
    if (!sameReplica) {
      const next = pickReplica(x.route.replicas, tried);
      if (!next) return giveUp();
      replica = next;
    }
    const r = replica!;
    r.outstanding++;
    holding = true;
    upstreamRes = undefined;
    const request = http.request({
      agent: opts.agent,
      hostname: r.hostname,
      port: r.port,
      path: r.basePath + x.path,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': x.body.length,
        accept: x.stream ? 'text/event-stream' : 'application/json',
      },
    });
    upstream = request;
    request.on('response', onResponse);
    request.on('error', (err: NodeJS.ErrnoException) => upstreamFailed(request, err));
    request.end(x.body);
    if (preForwardMs < 0) {
      preForwardMs = performance.now() - x.t0;
      overheadMs = preForwardMs;
      if (x.stream) firstTokenTimer = setTimeout(() => timedOut('first_token_timeout'), opts.firstTokenTimeoutMs);
    }
  }

  function retryOrGiveUp(failure: Failure) {
    lastFailure = failure;
    release();
    (tried ??= new Set()).add(replica!.id);
    if (pickReplica(x.route.replicas, tried)) {
      retries++;
      attempt(false);
    } else giveUp();
  }

  function upstreamFailed(request: http.ClientRequest, err: NodeJS.ErrnoException) {
    if (done || request !== upstream) return;
    if (x.res.headersSent) return failMidStream('upstream_disconnected');
    // A kept-alive socket the engine closed just as it was reused: the request never reached it.
    if (request.reusedSocket && !staleRetried && RETRYABLE_STALE.has(err.code ?? '')) {
      staleRetried = true;
      release();
      return attempt(true);
    }
    retryOrGiveUp({ status: 503, code: 'replica_unreachable', body: null, contentType: undefined });
  }

  function onResponse(this: http.ClientRequest, res: http.IncomingMessage) {
    if (done || this !== upstream) return void res.resume();
    upstreamRes = res;
    const status = res.statusCode ?? 502;
    if (status >= 500 || !x.stream || status !== 200) return collect(this, res, status);
    res.on('data', onStreamData);
    res.on('end', onStreamEnd);
    res.on('error', () => upstreamFailed(this, new Error('upstream stream broke')));
  }

  /** Reads a whole (non-streaming or error) response, then retries it or relays it. */
  function collect(request: http.ClientRequest, res: http.IncomingMessage, status: number) {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', (err) => upstreamFailed(request, err));
    res.on('end', () => {
      if (done || request !== upstream) return;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const contentType = res.headers['content-type'];
      if (status >= 500) return retryOrGiveUp({ status, code: `upstream_${status}`, body, contentType });
      const t = performance.now();
      if (status === 200) usage = usageOfBody(body);
      const after = performance.now() - t;
      x.res.writeHead(status, {
        'content-type': contentType ?? 'application/json',
        'content-length': body.length,
        'x-enclave-overhead-ms': (overheadMs + after).toFixed(3),
      });
      x.res.end(body);
      overheadMs += performance.now() - t;
      finish(status, status >= 400 ? `upstream_${status}` : null);
    });
  }

  function onStreamData(chunk: Buffer) {
    if (done) return;
    const t = performance.now();
    let buf = chunk;
    if (pending) {
      buf = Buffer.concat([pending, chunk]);
      pending = null;
    }
    const end = completeEventsEnd(buf);
    if (end < buf.length) {
      pending = Buffer.from(buf.subarray(end));
      buf = buf.subarray(0, end);
    }
    if (end === 0) return;
    if (ttftMs === null && containsToken(buf)) {
      ttftMs = t - x.t0;
      clearTimeout(firstTokenTimer);
    }
    if (!usageSeen) {
      const found = findUsageEvent(buf);
      if (found) {
        usageSeen = true;
        usage = found;
        if (x.stripUsage && found.usageOnly) buf = Buffer.concat([buf.subarray(0, found.start), buf.subarray(found.end)]);
      }
    }
    if (!x.res.headersSent) writeStreamHead();
    if (buf.length && !x.res.write(buf)) {
      upstreamRes!.pause();
      x.res.once('drain', () => upstreamRes?.resume());
    }
    overheadMs += performance.now() - t;
  }

  function onStreamEnd() {
    if (done) return;
    if (!x.res.headersSent) writeStreamHead();
    x.res.end(pending ?? undefined);
    pending = null;
    finish(200, null);
  }

  function writeStreamHead() {
    x.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      'x-enclave-overhead-ms': preForwardMs.toFixed(3),
    });
  }

  function failMidStream(code: string) {
    const message = code === 'upstream_disconnected' ? 'The engine closed the stream early' : 'Timed out';
    if (!x.res.writableEnded) x.res.end(`data: ${errorBody('api_error', code, message)}\n\n`);
    finish(502, code);
  }

  function timedOut(code: 'first_token_timeout' | 'request_timeout') {
    if (done) return;
    abortUpstream();
    const message =
      code === 'first_token_timeout'
        ? `No token from the engine within ${opts.firstTokenTimeoutMs} ms`
        : `The request took longer than ${opts.requestTimeoutMs} ms`;
    if (x.res.headersSent) {
      if (!x.res.writableEnded) x.res.end(`data: ${errorBody('timeout_error', code, message)}\n\n`);
    } else {
      const body = errorBody('timeout_error', code, message);
      x.res.writeHead(504, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-enclave-overhead-ms': Math.max(preForwardMs, 0).toFixed(3),
      });
      x.res.end(body);
    }
    finish(504, code);
  }

  function giveUp() {
    const f = lastFailure;
    if (!f) {
      const body = errorBody('api_error', 'no_ready_replica', `No ready replica for model '${x.route.name}'`);
      respondError(503, body, 'no_ready_replica');
    } else if (f.body && f.contentType?.includes('json')) {
      respondError(f.status, f.body, f.code);
    } else {
      const message = f.body ? `The engine failed with status ${f.status}` : `No replica of '${x.route.name}' could be reached`;
      respondError(f.status, errorBody('api_error', f.code, message), f.code);
    }
  }

  function respondError(status: number, body: string | Buffer, code: string) {
    if (!x.res.headersSent) {
      x.res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-enclave-overhead-ms': Math.max(preForwardMs, 0).toFixed(3),
      });
      x.res.end(body);
    }
    finish(status, code);
  }

  function abortUpstream() {
    const u = upstream;
    upstream = undefined;
    u?.destroy();
  }

  function onClientClose() {
    if (done || x.res.writableFinished) return;
    abortUpstream();
    finish(499, 'client_closed');
  }

  function finish(status: number, errorType: string | null) {
    if (done) return;
    done = true;
    clearTimeout(requestTimer);
    clearTimeout(firstTokenTimer);
    release();
    opts.onDone(x, {
      status,
      errorType,
      replicaId: replica?.id ?? null,
      retries,
      ttftMs,
      e2eMs: performance.now() - x.t0,
      overheadMs,
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
    });
  }
}
