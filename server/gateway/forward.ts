import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { guardedAgents, type GuardedAgents } from '../security/outbound/agents';
import { outboundPolicy } from '../security/outbound/policy';
import type { Caller } from './auth';
import { errorBody } from './errors';
import type { VariantRoute } from './experiments';
import { HOP_HEADER, nextHops } from './hop';
import { pickReplica, type Replica, type Route } from './routing-table';
import { failed, secondsUntilProbe, sending, succeeded, type BreakerSettings } from './replica-health';
import { countRequest, takeRetry } from './retry-budget';
import type { CachedAnswer } from './cached-answer';
import { completeEventsEnd, containsToken, findUsageEvent, usageOfBody } from './sse';

/** One request on its way to an engine. */
export interface Exchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  /** performance.now() when the request arrived. */
  t0: number;
  route: Route;
  /** Set when the model name is a running experiment: the arm this request was assigned to. */
  variant: VariantRoute | null;
  /** The model name the client asked for (an experiment's name, or the deployment's). */
  model: string;
  caller: Caller;
  /** '/v1/chat/completions' or '/v1/completions'. */
  path: string;
  /** The body to send upstream (already validated; usage requested for streams). */
  body: Buffer;
  stream: boolean;
  /** The client did not ask for usage, so the usage-only event the gateway asked for is removed. */
  stripUsage: boolean;
  /** The client's own bytes (before masking or usage options): what a fallback's body is made from. */
  raw?: Buffer;
  /** Looked up in the response cache and missed: where to keep a complete answer (response-cache.ts). */
  cache?: { hash: string; ttlSeconds: number; ownerId: string } | null;
  /** The body's type when not JSON (a transcription's multipart form, already naming the engine's model). */
  contentType?: string;
}

/** Why another deployment was asked (request_logs.fallback_reason). */
export type FallbackReason = 'replicas_failed' | 'replicas_set_aside' | 'no_ready_replica' | 'context_length';

/** A deployment to try instead, and the body as it expects it (its model name; masked for it if need be). */
export interface Fallback {
  route: Route;
  body: Buffer;
}

export interface Outcome {
  status: number;
  errorType: string | null;
  replicaId: string | null;
  retries: number;
  ttftMs: number | null;
  e2eMs: number;
  overheadMs: number;
  promptTokens: number | null;
  completionTokens: number | null;
  /** Gaps between token-carrying chunks after the first (ms), at most MAX_ITL_GAPS; null when not streamed. */
  itlMs: number[] | null;
  /** Mean gap from the first token-carrying chunk to the last; null with fewer than two. */
  tpotMs: number | null;
  /** Set when a fallback answered (x.route is then the fallback): the deployment first asked, and why. */
  fallbackFromId: string | null;
  fallbackReason: FallbackReason | null;
}

/** Enough gaps for a histogram of one long answer; beyond it the row would grow without adding much. */
export const MAX_ITL_GAPS = 512;

export interface ForwardOptions {
  agent: http.Agent;
  /** For upstream APIs reached over https. */
  httpsAgent?: https.Agent;
  firstTokenTimeoutMs: number;
  requestTimeoutMs: number;
  /** When a replica that keeps failing is set aside (replica-health.ts). */
  breaker: BreakerSettings;
  /** This install's name in the hop header sent to upstream APIs (hop.ts). */
  hopMarker: string;
  onDone(x: Exchange, outcome: Outcome): void;
  /** A complete answer to a request with `x.cache`, to keep (the cache checks it is complete and successful). */
  store?(x: Exchange, answer: CachedAnswer): void;
  /**
   * The next deployment to try, with the caller's access and data-protection checks applied to it, or
   * null: `origin` is the deployment first asked, `tried` every deployment tried so far.
   */
  fallback?(x: Exchange, origin: Route, tried: ReadonlySet<string>, reason: FallbackReason): Promise<Fallback | null>;
}

/** Answers that big are relayed but not kept: the cache is for answers, not bulk output. */
const MAX_CAPTURE_BYTES = 1 << 20;
/** An engine's 400 saying the prompt (plus max_tokens) does not fit its context: vLLM's, llama.cpp's and OpenAI's wordings. */
const CONTEXT_ERROR = /maximum context length|context length|context window|exceeds? the available context|context_length_exceeded|exceed_context_size|prompt is too long/i;

// Upstream APIs are URLs users gave: reached only through the outbound policy's agents. Engine replicas
// the agent started are internal and keep the plain agents.
let upstreamAgents: GuardedAgents | undefined;

interface Failure {
  status: number;
  code: string;
  body: Buffer | null;
  contentType: string | undefined;
}

const RETRYABLE_STALE = new Set(['ECONNRESET', 'EPIPE']);
/** Emitters carry their Forwarding under this symbol, so listeners are shared functions, not per-request closures. */
const OWNER = Symbol('enclave.forwarding');
type Owned<T> = T & { [OWNER]?: Forwarding };

/**
 * Sends a request to the least-busy ready replica and relays the answer. A connect error or a 5xx before
 * anything reached the client moves on to another replica (each tried once). Streams are relayed chunk
 * by chunk as they arrive; the client's headers go out with the first chunk, so a first-token timeout or
 * an upstream failure before it can still be answered with a proper status.
 */
export function forward(x: Exchange, opts: ForwardOptions): void {
  // Engines check `model` against the name they serve: an experiment's name becomes its arm's deployment's.
  const upstreamModel = x.route.upstream?.model ?? (x.model !== x.route.name ? x.route.name : null);
  if (upstreamModel && !x.contentType) x.body = withModel(x.body, upstreamModel);
  new Forwarding(x, opts).start();
}

/** The body with `model` renamed to what the engine expects (upstream routes, experiments and fallbacks only: it re-serialises). */
export function withModel(body: Buffer, model: string): Buffer {
  const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  parsed.model = model;
  return Buffer.from(JSON.stringify(parsed));
}

// The hot path runs once per request and once per chunk: state lives on one object and the listeners
// below are module-level, so a request allocates no closures.
class Forwarding {
  tried: Set<string> | null = null;
  retries = 0;
  replica: Replica | undefined = undefined;
  holding = false;
  upstream: http.ClientRequest | undefined = undefined;
  upstreamRes: http.IncomingMessage | undefined = undefined;
  staleRetried = false;
  done = false;
  preForwardMs = -1;
  overheadMs = 0;
  ttftMs: number | null = null;
  firstTokenAt = 0;
  lastTokenAt = 0;
  tokenChunks = 0;
  itl: number[] | null = null;
  promptTokens: number | null = null;
  completionTokens: number | null = null;
  usageSeen = false;
  pending: Buffer | null = null;
  lastFailure: Failure | null = null;
  chunks: Buffer[] | null = null;
  firstTokenTimer: NodeJS.Timeout | undefined = undefined;
  requestTimer: NodeJS.Timeout | undefined = undefined;
  /** The deployment's own timeouts, else the gateway's (GATEWAY_FIRST_TOKEN_TIMEOUT_MS, GATEWAY_REQUEST_TIMEOUT_MS). */
  firstTokenTimeoutMs = 0;
  requestTimeoutMs = 0;
  /** The engine's stream as it came (usage event included), kept for the response cache; null when not kept. */
  captured: Buffer[] | null = null;
  capturedBytes = 0;
  /** Set once a fallback took over: the deployment first asked, why, and every deployment tried. */
  origin: Route | null = null;
  fallbackReason: FallbackReason | null = null;
  routesTried: Set<string> | null = null;

  constructor(
    readonly x: Exchange,
    readonly opts: ForwardOptions,
  ) {}

  start() {
    const policy = this.x.route.policy;
    this.firstTokenTimeoutMs = policy.firstTokenTimeoutMs ?? this.opts.firstTokenTimeoutMs;
    this.requestTimeoutMs = policy.requestTimeoutMs ?? this.opts.requestTimeoutMs;
    countRequest(this.x.route.deploymentId, policy);
    if (this.x.cache && this.x.stream) this.captured = [];
    const wait = Math.max(1, this.requestTimeoutMs - (performance.now() - this.x.t0));
    this.requestTimer = setTimeout(onRequestTimeout, wait, this);
    (this.x.res as Owned<http.ServerResponse>)[OWNER] = this;
    this.x.res.on('close', onClientClose);
    this.attempt(false);
  }

  release() {
    if (this.holding) {
      this.replica!.outstanding--;
      this.holding = false;
    }
  }

  attempt(sameReplica: boolean) {
    const x = this.x;
    if (!sameReplica) {
      const next = pickReplica(x.route.replicas, this.tried);
      if (!next) return this.giveUp();
      this.replica = next;
      sending(next, Date.now());
    }
    const r = this.replica!;
    r.outstanding++;
    this.holding = true;
    this.upstreamRes = undefined;
    this.pending = null;
    if (this.captured) {
      // Bytes of an attempt that failed before its first whole event are not part of the answer.
      this.captured.length = 0;
      this.capturedBytes = 0;
    }
    const headers: http.OutgoingHttpHeaders = {
      'content-type': x.contentType ?? 'application/json',
      'content-length': x.body.length,
      // Speech answers with audio bytes.
      accept: x.stream ? 'text/event-stream' : x.path === '/v1/audio/speech' ? '*/*' : 'application/json',
    };
    let agent = r.tls ? this.opts.httpsAgent : this.opts.agent;
    const upstream = x.route.upstream;
    if (upstream) {
      if (upstream.authorization) headers.authorization = upstream.authorization;
      headers[HOP_HEADER] = nextHops(x.req, this.opts.hopMarker);
      upstreamAgents ??= guardedAgents(outboundPolicy());
      agent = r.tls ? upstreamAgents.https : upstreamAgents.http;
    } else if (r.authorization) headers.authorization = r.authorization;
    const request: Owned<http.ClientRequest> = (r.tls ? https : http).request({
      agent,
      hostname: r.hostname,
      port: r.port,
      path: r.basePath + x.path,
      method: 'POST',
      headers,
    });
    request[OWNER] = this;
    this.upstream = request;
    request.on('response', onUpstreamResponse);
    request.on('error', onUpstreamRequestError);
    request.end(x.body);
    if (this.preForwardMs < 0) {
      this.preForwardMs = performance.now() - x.t0;
      this.overheadMs = this.preForwardMs;
    }
    // Each try gets the whole time to first token: one that timed out is retried elsewhere.
    if (x.stream && !sameReplica) {
      clearTimeout(this.firstTokenTimer);
      this.firstTokenTimer = setTimeout(onFirstTokenTimeout, this.firstTokenTimeoutMs, this);
    }
  }

  retryOrGiveUp(failure: Failure) {
    this.lastFailure = failure;
    this.replicaFailed();
    this.release();
    (this.tried ??= new Set()).add(this.replica!.id);
    const route = this.x.route;
    // Another replica, within the deployment's retry budget (retry-budget.ts); else the fallback chain.
    if (pickReplica(route.replicas, this.tried) && takeRetry(route.deploymentId, route.policy, this.retries)) {
      this.retries++;
      this.attempt(false);
    } else this.giveUp();
  }

  upstreamFailed(request: http.ClientRequest | undefined, err: NodeJS.ErrnoException) {
    if (this.done || !request || request !== this.upstream) return;
    if (this.x.res.headersSent) return this.failMidStream();
    // A kept-alive socket the engine closed just as it was reused: the request never reached it.
    if (request.reusedSocket && !this.staleRetried && RETRYABLE_STALE.has(err.code ?? '')) {
      this.staleRetried = true;
      this.release();
      return this.attempt(true);
    }
    this.retryOrGiveUp({ status: 503, code: 'replica_unreachable', body: null, contentType: undefined });
  }

  onResponse(request: http.ClientRequest, res: Owned<http.IncomingMessage>) {
    if (this.done || request !== this.upstream) return void res.resume();
    this.upstreamRes = res;
    res[OWNER] = this;
    const status = res.statusCode ?? 502;
    // It answered: in service (a 5xx, or an engine refusing its secret, is counted as a failure instead).
    if (status < 500 && (status !== 401 || this.x.route.upstream)) succeeded(this.replica!);
    res.on('error', onUpstreamResponseError);
    if (status >= 500 || !this.x.stream || status !== 200) {
      this.chunks = [];
      res.on('data', onCollectData);
      res.on('end', onCollectEnd);
    } else {
      res.on('data', onStreamData);
      res.on('end', onStreamEnd);
    }
  }

  /** A whole (non-streaming or error) response has arrived: retry it or relay it. */
  onCollected(res: http.IncomingMessage) {
    if (this.done || res !== this.upstreamRes) return;
    const x = this.x;
    const chunks = this.chunks!;
    this.chunks = null;
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const status = res.statusCode ?? 502;
    const contentType = res.headers['content-type'];
    if (status >= 500) return this.retryOrGiveUp({ status, code: `upstream_${status}`, body, contentType });
    // An upstream refusing Enclave's own key is the operator's problem, not the caller's: never a 401 to
    // the client, and never the upstream's body (it may quote part of the key).
    if (x.route.upstream && (status === 401 || status === 403)) {
      const message = `The upstream API of '${x.route.name}' refused this deployment's API key (${status}); an admin must update it`;
      return this.respondError(502, errorBody('api_error', 'upstream_auth_failed', message), 'upstream_auth_failed');
    }
    // An engine refusing its replica secret was started under another master key (its agent replaces it):
    // another replica may take the request; the caller never sees the engine's 401.
    if (!x.route.upstream && status === 401) {
      const message = `A replica of '${x.route.name}' refused the gateway's replica secret; its agent restarts it`;
      return this.retryOrGiveUp({ status: 502, code: 'replica_auth_failed', body: Buffer.from(errorBody('api_error', 'replica_auth_failed', message)), contentType: 'application/json' });
    }
    // The prompt does not fit this model: a longer-context deployment may take it (before the client saw anything).
    if (status === 400 && x.route.policy.contextFallbackId && this.mayFallBack() && CONTEXT_ERROR.test(body.toString('utf8', 0, Math.min(body.length, 4096)))) {
      this.release();
      return this.tryFallback('context_length', () => this.relay(status, body, contentType));
    }
    this.relay(status, body, contentType);
  }

  /** Sends a whole response to the client as the engine gave it. */
  relay(status: number, body: Buffer, contentType: string | undefined) {
    const x = this.x;
    const t = performance.now();
    if (status === 200) {
      const usage = usageOfBody(body);
      this.promptTokens = usage.promptTokens;
      this.completionTokens = usage.completionTokens;
    }
    x.res.writeHead(status, {
      'content-type': contentType ?? 'application/json',
      'content-length': body.length,
      'x-enclave-overhead-ms': (this.overheadMs + performance.now() - t).toFixed(3),
    });
    x.res.end(body);
    this.overheadMs += performance.now() - t;
    if (status === 200 && x.cache && !this.origin)
      this.opts.store?.(x, { kind: 'json', body, promptTokens: this.promptTokens, completionTokens: this.completionTokens });
    this.finish(status, status >= 400 ? `upstream_${status}` : null);
  }

  onStreamChunk(chunk: Buffer) {
    if (this.done) return;
    const t = performance.now();
    if (this.captured) {
      this.capturedBytes += chunk.length;
      if (this.capturedBytes > MAX_CAPTURE_BYTES) this.captured = null;
      else this.captured.push(chunk);
    }
    const res = this.x.res;
    let buf = chunk;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    const end = completeEventsEnd(buf);
    if (end < buf.length) {
      this.pending = Buffer.from(buf.subarray(end));
      if (end === 0) return;
      buf = buf.subarray(0, end);
    }
    if (containsToken(buf)) {
      if (this.ttftMs === null) {
        this.ttftMs = t - this.x.t0;
        this.firstTokenAt = t;
        clearTimeout(this.firstTokenTimer);
      } else {
        const itl = (this.itl ??= []);
        if (itl.length < MAX_ITL_GAPS) itl.push(t - this.lastTokenAt);
      }
      this.lastTokenAt = t;
      this.tokenChunks++;
    }
    let skip = false;
    if (!this.usageSeen) {
      const found = findUsageEvent(buf);
      if (found) {
        this.usageSeen = true;
        this.promptTokens = found.promptTokens;
        this.completionTokens = found.completionTokens;
        if (this.x.stripUsage && found.usageOnly) {
          // Usually the usage event is a chunk of its own: then there is nothing to copy.
          if (found.start === 0 && found.end === buf.length) skip = true;
          else buf = Buffer.concat([buf.subarray(0, found.start), buf.subarray(found.end)]);
        }
      }
    }
    if (!res.headersSent) this.writeStreamHead();
    if (!skip && !res.write(buf)) {
      this.upstreamRes!.pause();
      res.once('drain', onClientDrain);
    }
    this.overheadMs += performance.now() - t;
  }

  onStreamEnd() {
    if (this.done) return;
    if (!this.x.res.headersSent) this.writeStreamHead();
    this.x.res.end(this.pending ?? undefined);
    this.pending = null;
    const captured = this.captured;
    if (captured && !this.origin) {
      this.captured = null;
      // Kept only if whole: [DONE] at the end, every choice finished, no error event (cached-answer.ts).
      this.opts.store?.(this.x, { kind: 'sse', body: Buffer.concat(captured), promptTokens: this.promptTokens, completionTokens: this.completionTokens });
    }
    this.finish(200, null);
  }

  writeStreamHead() {
    this.x.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      // A stream is someone's conversation: no cache keeps it.
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      'x-enclave-overhead-ms': this.preForwardMs.toFixed(3),
    });
  }

  /** The replica this request is on failed it: counted towards setting it aside. */
  replicaFailed() {
    if (this.replica) failed(this.replica, Date.now(), this.opts.breaker, this.x.route);
  }

  failMidStream() {
    this.replicaFailed();
    const res = this.x.res;
    if (!res.writableEnded) res.end(`data: ${errorBody('api_error', 'upstream_disconnected', 'The engine closed the stream early')}\n\n`);
    this.finish(502, 'upstream_disconnected');
  }

  timedOut(code: 'first_token_timeout' | 'request_timeout') {
    if (this.done) return;
    const message =
      code === 'first_token_timeout'
        ? `No token from the engine within ${this.firstTokenTimeoutMs} ms`
        : `The request took longer than ${this.requestTimeoutMs} ms`;
    const body = errorBody('timeout_error', code, message);
    this.abortUpstream();
    // No first token in time is the replica's failure (a long answer running past the request's limit is
    // not): before anything reached the client, another replica or a fallback may still answer.
    if (code === 'first_token_timeout' && !this.x.res.headersSent)
      return this.retryOrGiveUp({ status: 504, code, body: Buffer.from(body), contentType: 'application/json' });
    if (code === 'first_token_timeout') this.replicaFailed();
    const res = this.x.res;
    if (res.headersSent) {
      if (!res.writableEnded) res.end(`data: ${body}\n\n`);
    } else {
      res.writeHead(504, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-enclave-overhead-ms': Math.max(this.preForwardMs, 0).toFixed(3),
      });
      res.end(body);
    }
    this.finish(504, code);
  }

  /** Whether another deployment may still take this request: nothing sent yet, a fallback hook, no experiment arm (its figures must be its own). */
  mayFallBack(): boolean {
    return !!this.opts.fallback && !this.x.variant && !this.x.res.headersSent;
  }

  /** Asks for the next deployment; `otherwise` answers the client when there is none the caller may use. */
  tryFallback(reason: FallbackReason, otherwise: () => void) {
    const origin = this.origin ?? this.x.route;
    const tried = (this.routesTried ??= new Set([this.x.route.deploymentId]));
    this.opts.fallback!(this.x, origin, tried, reason).then(
      (next) => {
        if (this.done) return;
        if (!next) return otherwise();
        this.switchTo(next, reason);
      },
      () => {
        if (!this.done) otherwise();
      },
    );
  }

  switchTo(next: Fallback, reason: FallbackReason) {
    this.origin ??= this.x.route;
    this.fallbackReason = reason;
    this.routesTried!.add(next.route.deploymentId);
    this.x.route = next.route;
    this.x.body = next.body;
    this.tried = null;
    this.lastFailure = null;
    this.staleRetried = false;
    // Another model's answer is not the asked deployment's: it is not kept under its key.
    this.captured = null;
    this.x.res.setHeader('x-enclave-fallback', next.route.name);
    countRequest(next.route.deploymentId, next.route.policy);
    this.attempt(false);
  }

  giveUp() {
    if (this.mayFallBack()) {
      const reason: FallbackReason = this.lastFailure ? 'replicas_failed' : this.x.route.replicas.length > 0 ? 'replicas_set_aside' : 'no_ready_replica';
      return this.tryFallback(reason, () => this.answerGiveUp());
    }
    this.answerGiveUp();
  }

  /** Every replica failed (or none could be tried) and no fallback took the request: the client is told why. */
  answerGiveUp() {
    const f = this.lastFailure;
    const name = this.x.route.name;
    const replicas = this.x.route.replicas;
    if (!f && replicas.length > 0) {
      // Every replica is set aside after failing in a row (or being probed): say so, and when to come back.
      const wait = secondsUntilProbe(replicas, Date.now());
      const message = `Every replica of '${name}' failed ${this.opts.breaker.failures} times in a row and is set aside; retry in ${wait} s`;
      this.x.res.setHeader('retry-after', String(wait));
      this.respondError(503, errorBody('api_error', 'replicas_set_aside', message), 'replicas_set_aside');
    } else if (!f) this.respondError(503, errorBody('api_error', 'no_ready_replica', `No ready replica for model '${name}'`), 'no_ready_replica');
    else if (f.body && f.contentType?.includes('json')) this.respondError(f.status, f.body, f.code);
    else {
      const message = f.body ? `The engine failed with status ${f.status}` : `No replica of '${name}' could be reached`;
      this.respondError(f.status, errorBody('api_error', f.code, message), f.code);
    }
  }

  respondError(status: number, body: string | Buffer, code: string) {
    const res = this.x.res;
    if (!res.headersSent) {
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-enclave-overhead-ms': Math.max(this.preForwardMs, 0).toFixed(3),
      });
      res.end(body);
    }
    this.finish(status, code);
  }

  abortUpstream() {
    const u = this.upstream;
    this.upstream = undefined;
    // Its response's late events (an error from the destroyed socket) must not count as this request's.
    this.upstreamRes = undefined;
    u?.destroy();
  }

  finish(status: number, errorType: string | null) {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.requestTimer);
    clearTimeout(this.firstTokenTimer);
    this.release();
    this.opts.onDone(this.x, {
      status,
      errorType,
      replicaId: this.replica?.id ?? null,
      retries: this.retries,
      ttftMs: this.ttftMs,
      e2eMs: performance.now() - this.x.t0,
      overheadMs: this.overheadMs,
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
      itlMs: this.itl,
      tpotMs: this.tokenChunks > 1 ? (this.lastTokenAt - this.firstTokenAt) / (this.tokenChunks - 1) : null,
      fallbackFromId: this.origin?.deploymentId ?? null,
      fallbackReason: this.fallbackReason,
    });
  }
}

function onUpstreamResponse(this: Owned<http.ClientRequest>, res: http.IncomingMessage) {
  this[OWNER]!.onResponse(this, res);
}
function onUpstreamRequestError(this: Owned<http.ClientRequest>, err: NodeJS.ErrnoException) {
  this[OWNER]!.upstreamFailed(this, err);
}
function onUpstreamResponseError(this: Owned<http.IncomingMessage>, err: NodeJS.ErrnoException) {
  const f = this[OWNER]!;
  if (this === f.upstreamRes) f.upstreamFailed(f.upstream, err);
}
function onCollectData(this: Owned<http.IncomingMessage>, chunk: Buffer) {
  this[OWNER]!.chunks?.push(chunk);
}
function onCollectEnd(this: Owned<http.IncomingMessage>) {
  this[OWNER]!.onCollected(this);
}
function onStreamData(this: Owned<http.IncomingMessage>, chunk: Buffer) {
  this[OWNER]!.onStreamChunk(chunk);
}
function onStreamEnd(this: Owned<http.IncomingMessage>) {
  this[OWNER]!.onStreamEnd();
}
function onClientDrain(this: Owned<http.ServerResponse>) {
  this[OWNER]!.upstreamRes?.resume();
}
function onClientClose(this: Owned<http.ServerResponse>) {
  const f = this[OWNER]!;
  if (f.done || this.writableFinished) return;
  f.abortUpstream();
  f.finish(499, 'client_closed');
}
function onRequestTimeout(f: Forwarding) {
  f.timedOut('request_timeout');
}
function onFirstTokenTimeout(f: Forwarding) {
  f.timedOut('first_token_timeout');
}
