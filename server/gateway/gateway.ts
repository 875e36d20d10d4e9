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
import { assignVariant, isLive, type ExperimentRoute, type VariantRoute } from './experiments';
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
    metrics.observe(x.model, x.route.deploymentId, o.status, o.ttftMs, o.e2eMs, o.overheadMs, o.itlMs, o.tpotMs);
    logs.push({
      createdAt: new Date(),
      apiKeyId: x.caller.keyId,
      userId: x.caller.userId,
      model: x.model,
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
      experimentId: x.variant?.experimentId ?? null,
      variantId: x.variant?.id ?? null,
      tpotMs: o.tpotMs,
      itlMs: o.itlMs,
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
      model: (model || route?.name || '').slice(0, 256),
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
      experimentId: null,
      variantId: null,
      tpotMs: null,
      itlMs: null,
    });
  }

  /**
   * The arm of a live experiment for this caller, or a 404 like an unknown model when it is outside its
   * window. Sticky per user, or per key when the experiment says so (the web role's chat calls have no
   * key and fall back to the user). A promoted experiment sends everyone to the winner.
   */
  function variantFor(e: ExperimentRoute, caller: Caller, res: http.ServerResponse): VariantRoute {
    if (!isLive(e, Date.now()))
      throw new GatewayError(404, 'invalid_request_error', 'model_not_found', `The experiment '${e.name}' is not running`, 'model');
    const v = e.winner ?? assignVariant(e, e.stickiness === 'key' ? (caller.keyId ?? caller.userId) : caller.userId);
    // setHeader: writeHead merges these into whatever the forwarder answers with, errors included.
    res.setHeader('x-enclave-variant', v.label);
    res.setHeader('x-enclave-variant-id', v.id);
    return v;
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
      // The synchronous hits (a deployment, or an experiment: both map lookups) are the hot path; a miss
      // or an empty route reloads the table first.
      let experiment = cached ? undefined : table.experiment(model);
      if (cached) route = cached.replicas.length > 0 ? cached : await table.resolve(model);
      else if (!experiment) {
        route = await table.resolve(model);
        if (!route) experiment = table.experiment(model);
      }
      let variant: VariantRoute | null = null;
      if (experiment) {
        const v = variantFor(experiment, caller, res);
        route = v.route.replicas.length > 0 ? v.route : ((await table.resolve(v.route.name)) ?? v.route);
        // Promoted traffic is ordinary traffic to the winner: only the running experiment's requests count.
        if (experiment.status === 'running') variant = v;
      }
      if (!route) throw new GatewayError(404, 'invalid_request_error', 'model_not_found', `The model '${model}' does not exist`, 'model');
      const access = mayUse(route, caller, experiment ? model : route.name);
      if (access !== 'ok') {
        const why = access === 'key_scope' ? 'this API key is not allowed to use it' : `the role '${caller.role}' may not use it`;
        throw new GatewayError(403, 'permission_error', 'model_not_allowed', `The model '${model}' is not available: ${why}`, 'model');
      }
      const stream = body.stream === true;
      const stripUsage = stream && body.stream_options?.include_usage !== true;
      // Usage feeds the request log, so the engine is always asked for it; the client never sees it unasked.
      const upstreamBody = stripUsage ? withUsageRequested(raw, body) : raw;
      forward({ req, res, t0, route, variant, model: experiment ? model : route.name, caller, path, body: upstreamBody, stream, stripUsage }, forwardOptions);
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
      const now = Date.now();
      for (const e of table.experiments()) {
        const arm = e.winner ?? e.variants[0]!;
        if (!isLive(e, now) || mayUse(arm.route, caller, e.name) !== 'ok') continue;
        data.push({ id: e.name, object: 'model', created: Math.floor(arm.route.createdAt / 1000), owned_by: 'enclave' });
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
