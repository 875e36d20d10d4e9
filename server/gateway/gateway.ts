import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { Db } from '../db/client';
import type { Env } from '../env';
import { createAuthenticator, type Caller } from './auth';
import { readBody } from './body';
import { GatewayError, sendError } from './errors';
import { forward, type Exchange, type Outcome } from './forward';
import { createGatewayMetrics } from './metrics';
import { createRateLimiter } from './rate-limit';
import { createRequestLogWriter } from './request-log';
import { createRoutingTable, mayUse, type Route } from './routing-table';
import { parseBody, type BodyKind, type ForwardedBody } from './validation';

type GatewayEnv = Pick<
  Env,
  | 'GATEWAY_MAX_BODY_BYTES'
  | 'GATEWAY_FIRST_TOKEN_TIMEOUT_MS'
  | 'GATEWAY_REQUEST_TIMEOUT_MS'
  | 'GATEWAY_RATE_LIMIT_PER_MINUTE'
  | 'REDIS_PREFIX'
>;

export interface GatewayOptions {
  db: Db;
  env: GatewayEnv;
  /** Needed only for rate limits (GATEWAY_RATE_LIMIT_PER_MINUTE > 0). */
  redis?: Redis;
  masterKey: Buffer;
  /** How often the model → replicas table reloads (ms). */
  routingRefreshMs?: number;
  /** How long a key lookup is trusted (ms): a revoked key stops working within this time. */
  authCacheMs?: number;
  logFlushMs?: number;
}

export interface Gateway {
  /** Serves one /v1/* request. Never throws; every failure becomes an OpenAI error response. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** Reloads deployments and replicas now (after a deploy, or in tests). */
  refresh(): Promise<void>;
  /** Stops background work and flushes buffered request logs. */
  close(): Promise<void>;
}

const PATHS: Record<string, BodyKind> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completion',
};

const USAGE_OPTION = Buffer.from('{"stream_options":{"include_usage":true},');
const STREAM_OPTIONS_KEY = Buffer.from('"stream_options"');

/**
 * The client's bytes with `stream_options.include_usage` set. When the body has no stream_options at all
 * (the usual case) the option is spliced in front of the first key instead of re-serialising the body.
 */
function withUsageRequested(raw: Buffer, body: ForwardedBody): Buffer {
  const open = raw.indexOf(0x7b /* { */);
  if (raw.indexOf(STREAM_OPTIONS_KEY) === -1 && open !== -1) return Buffer.concat([USAGE_OPTION, raw.subarray(open + 1)]);
  body.stream_options = { ...body.stream_options, include_usage: true };
  return Buffer.from(JSON.stringify(body));
}

export function createGateway(opts: GatewayOptions): Gateway {
  const { db, env } = opts;
  const auth = createAuthenticator(db, opts.masterKey, opts.authCacheMs);
  const table = createRoutingTable(db, opts.routingRefreshMs, opts.masterKey);
  table.ready.catch(() => {}); // a database still starting: the next background reload retries
  const logs = createRequestLogWriter(db, {
    intervalMs: opts.logFlushMs,
    onError: (err) => console.error(`gateway: writing request logs failed: ${(err as Error).message}`),
  });
  const metrics = createGatewayMetrics();
  const limiter =
    opts.redis && env.GATEWAY_RATE_LIMIT_PER_MINUTE > 0
      ? createRateLimiter(opts.redis, env.REDIS_PREFIX, env.GATEWAY_RATE_LIMIT_PER_MINUTE)
      : null;
  // Keep-alive to engines: a new TCP connection per request would cost more than everything else here.
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' });
  const forwardOptions = {
    agent,
    httpsAgent,
    firstTokenTimeoutMs: env.GATEWAY_FIRST_TOKEN_TIMEOUT_MS,
    requestTimeoutMs: env.GATEWAY_REQUEST_TIMEOUT_MS,
    onDone: record,
  };

  function record(x: Exchange, o: Outcome) {
    metrics.observe(x.route.name, x.route.deploymentId, o.status, o.ttftMs, o.e2eMs, o.overheadMs);
    logs.push({
      createdAt: new Date(),
      apiKeyId: x.caller.keyId,
      userId: x.caller.userId,
      model: x.route.name,
      deploymentId: x.route.deploymentId,
      replicaId: o.replicaId,
      status: o.status,
      errorType: o.errorType,
      stream: x.stream,
      promptTokens: o.promptTokens,
      completionTokens: o.completionTokens,
      ttftMs: o.ttftMs,
      e2eMs: o.e2eMs,
      overheadMs: o.overheadMs,
      retries: o.retries,
      clientAddress: x.req.socket.remoteAddress ?? null,
    });
  }

  /** A request refused before it reached an engine; logged only once the caller is known (no log flood from bad keys). */
  function refuse(req: http.IncomingMessage, res: http.ServerResponse, t0: number, err: GatewayError, caller?: Caller, model = '', route?: Route) {
    const overheadMs = performance.now() - t0;
    sendError(res, err, { 'x-enclave-overhead-ms': overheadMs.toFixed(3) });
    if (!caller) return;
    const e2eMs = performance.now() - t0;
    if (route) metrics.observe(route.name, route.deploymentId, err.status, null, e2eMs, overheadMs);
    logs.push({
      createdAt: new Date(),
      apiKeyId: caller.keyId,
      userId: caller.userId,
      model: route?.name ?? model.slice(0, 256),
      deploymentId: route?.deploymentId ?? null,
      replicaId: null,
      status: err.status,
      errorType: err.code,
      stream: false,
      promptTokens: null,
      completionTokens: null,
      ttftMs: null,
      e2eMs,
      overheadMs,
      retries: 0,
      clientAddress: req.socket.remoteAddress ?? null,
    });
  }

  async function modelRequest(req: http.IncomingMessage, res: http.ServerResponse, t0: number, path: string) {
    let caller: Caller | undefined;
    let model = '';
    let route: Route | undefined;
    try {
      const authed = auth.authenticate(req.headers.authorization, req.headers['x-enclave-user-id']);
      caller = authed instanceof Promise ? await authed : authed;
      // The rate-limit round trip to Redis overlaps with reading the body.
      const limited = limiter?.check(caller.keyId ?? `user:${caller.userId}`);
      limited?.catch(() => {});
      const raw = await readBody(req, env.GATEWAY_MAX_BODY_BYTES);
      if (limited) await limited;
      const body: ForwardedBody = parseBody(PATHS[path]!, raw);
      model = body.model;
      const cached = table.get(model);
      // The synchronous hit is the hot path; a miss or an empty route reloads the table first.
      route = cached && cached.replicas.length > 0 ? cached : await table.resolve(model);
      if (!route) throw new GatewayError(404, 'invalid_request_error', 'model_not_found', `The model '${model}' does not exist`, 'model');
      const access = mayUse(route, caller);
      if (access !== 'ok') {
        const why = access === 'key_scope' ? 'this API key is not allowed to use it' : `the role '${caller.role}' may not use it`;
        throw new GatewayError(403, 'permission_error', 'model_not_allowed', `The model '${model}' is not available: ${why}`, 'model');
      }
      const stream = body.stream === true;
      const stripUsage = stream && body.stream_options?.include_usage !== true;
      // Usage feeds the request log, so the engine is always asked for it; the client never sees it unasked.
      const upstreamBody = stripUsage ? withUsageRequested(raw, body) : raw;
      forward({ req, res, t0, route, caller, path, body: upstreamBody, stream, stripUsage }, forwardOptions);
    } catch (err) {
      if (!(err instanceof GatewayError)) console.error(`gateway: ${(err as Error).message}`);
      const e = err instanceof GatewayError ? err : new GatewayError(500, 'api_error', 'internal_error', 'The gateway failed; try again');
      if (e.status === 499) return;
      refuse(req, res, t0, e, caller, model, route);
    }
  }

  async function listModels(req: http.IncomingMessage, res: http.ServerResponse, t0: number) {
    try {
      const caller = await auth.authenticate(req.headers.authorization, req.headers['x-enclave-user-id']);
      await table.ready.catch(() => {});
      const data = [];
      for (const route of table.all()) {
        if (route.status === 'stopped' || mayUse(route, caller) !== 'ok') continue;
        data.push({ id: route.name, object: 'model', created: Math.floor(route.createdAt / 1000), owned_by: 'enclave' });
      }
      data.sort((a, b) => a.id.localeCompare(b.id));
      const body = JSON.stringify({ object: 'list', data });
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-enclave-overhead-ms': (performance.now() - t0).toFixed(3),
      });
      res.end(body);
    } catch (err) {
      const e = err instanceof GatewayError ? err : new GatewayError(500, 'api_error', 'internal_error', 'The gateway failed; try again');
      refuse(req, res, t0, e);
    }
  }

  return {
    handle(req, res) {
      const t0 = performance.now();
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      if (PATHS[path]) {
        if (req.method === 'POST') return void modelRequest(req, res, t0, path);
        return refuse(req, res, t0, new GatewayError(405, 'invalid_request_error', 'method_not_allowed', `Use POST for ${path}`, null, { allow: 'POST' }));
      }
      if (path === '/v1/models') {
        if (req.method === 'GET') return void listModels(req, res, t0);
        return refuse(req, res, t0, new GatewayError(405, 'invalid_request_error', 'method_not_allowed', 'Use GET for /v1/models', null, { allow: 'GET' }));
      }
      refuse(req, res, t0, new GatewayError(404, 'invalid_request_error', 'unknown_url', `Unknown endpoint: ${req.method} ${path}`));
    },
    refresh: () => table.refresh(),
    async close() {
      table.close();
      await logs.close();
      agent.destroy();
      httpsAgent.destroy();
    },
  };
}
