import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { Db } from '../db/client';
import type { Env } from '../core/env';
import { errorMessage, log } from '../core/log';
import { createAuthenticator, type Caller } from './auth';
import { readBody } from './body';
import { GatewayError, sendError } from './errors';
import { forward, withModel, type Exchange, type Fallback, type FallbackReason, type Outcome } from './forward';
import { asJson, asSse, type CachedAnswer } from './cached-answer';
import { cacheKey, createResponseCache, isCacheable } from './response-cache';
import { publishBreakerChanges } from './breaker-state';
import { assignVariant, isLive, type ExperimentRoute, type VariantRoute } from './experiments';
import { hopMarker, loopRefusal } from './hop';
import { createGatewayMetrics } from './metrics';
import { createConcurrencyLimiter } from './concurrency';
import { createRateLimiter } from './rate-limit';
import { createQuotaEnforcer, type QuotaEnforcer } from './quotas';
import { applyCors } from './cors';
import { parseCorsOrigins } from '../core/net/origins';
import { clientAddress } from '../security/client-address';
import { subscribeCredentialChanges } from '../security/credential-events';
import { createRequestLogWriter, type RequestLogRow } from './request-log';
import { createDataProtection } from './data-protection';
import { createProtectionSettingsCache } from '../security/classification';
import { createRoutingTable, mayUse, type Route } from './routing-table';
import { parseBody, type BodyKind, type ChatCompletionBody, type ForwardedBody } from './validation';
import { CONTEXT_HEADER, trimToContext } from './context-trim';
import { logRequest, setRequestActor } from '../http/access-log';
import { inspectImages, visionRefusal } from './images';
import { createFileStore, filesTarget, type FilesTarget } from './files';
import { AUDIO_PATHS, audioRefusal, formBody, parseSpeech, parseTranscription, TRANSCRIPTIONS, type AudioRequest } from './audio';

type GatewayEnv = Pick<
  Env,
  | 'GATEWAY_MAX_BODY_BYTES'
  | 'GATEWAY_MAX_IMAGE_BYTES'
  | 'GATEWAY_MAX_REQUEST_IMAGE_BYTES'
  | 'GATEWAY_MAX_AUDIO_BYTES'
  | 'GATEWAY_MAX_STORED_FILE_BYTES'
  | 'GATEWAY_FIRST_TOKEN_TIMEOUT_MS'
  | 'GATEWAY_REQUEST_TIMEOUT_MS'
  | 'GATEWAY_BREAKER_FAILURES'
  | 'GATEWAY_BREAKER_COOLDOWN_MS'
  | 'GATEWAY_RATE_LIMIT_PER_MINUTE'
  | 'GATEWAY_MAX_CONCURRENT_PER_KEY'
  | 'REDIS_PREFIX'
  | 'ENCLAVE_TRUSTED_PROXIES'
  | 'ENCLAVE_CORS_ORIGINS'
>;

export interface GatewayOptions {
  db: Db;
  env: GatewayEnv;
  /** Needed for rate limits (GATEWAY_RATE_LIMIT_PER_MINUTE > 0), quotas (quotas.ts) and hearing of revoked keys. */
  redis?: Redis;
  /** How often quota rows reload (ms). */
  quotaRefreshMs?: number;
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
  /** Writes the request logs buffered so far, without waiting for the next batch (for tests that read them). */
  flushLogs(): Promise<void>;
  /** Stops background work and flushes buffered request logs. */
  close(): Promise<void>;
}

const PATHS: Record<string, BodyKind> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completion',
  '/v1/embeddings': 'embedding',
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
  // Revocations and disabled users reach this process over Redis within a moment (credential-events.ts).
  // So do quota changes (the rows are reloaded at once; the poll below is the fallback).
  const credentials = opts.redis
    ? subscribeCredentialChanges(opts.redis, env.REDIS_PREFIX, (change) => {
        if (change.quotas || change.all) quotas?.refresh().catch((err) => log.error('quotas: reloading limits failed', { error: errorMessage(err) }));
        if (change.routes || change.all) table.refresh().catch((err) => log.error('routing: reloading the table failed', { error: errorMessage(err) }));
        // Data-protection settings and key levels are announced as route changes (classification router).
        if (change.routes || change.all) protectionSettings.refresh().catch((err) => log.error('data protection: reloading settings failed', { error: errorMessage(err) }));
        if (change.keyId || change.all) protection.forget(change.keyId);
        if (!change.quotas && !change.routes) auth.forget(change);
      })
    : null;
  const auth = createAuthenticator(db, opts.masterKey, opts.authCacheMs, () => credentials?.healthy() ?? false);
  const slots = createConcurrencyLimiter(env.GATEWAY_MAX_CONCURRENT_PER_KEY);
  const table = createRoutingTable(db, opts.routingRefreshMs, opts.masterKey);
  const protectionSettings = createProtectionSettingsCache(db, opts.routingRefreshMs);
  const protection = createDataProtection(db, protectionSettings);
  table.ready.catch(() => {}); // a database still starting: the next background reload retries
  const logs = createRequestLogWriter(db, {
    intervalMs: opts.logFlushMs,
    onError: (err) => log.error('gateway: writing request logs failed', { error: errorMessage(err) }),
  });
  const metrics = createGatewayMetrics();
  // Exact-match answers, shared by every gateway process (response-cache.ts); none without Redis.
  const responseCache = opts.redis ? createResponseCache({ redis: opts.redis, prefix: env.REDIS_PREFIX, db, masterKey: opts.masterKey }) : null;
  // Replicas set aside are shown on the deployment page, served by another role.
  const stopPublishing = opts.redis ? publishBreakerChanges(opts.redis, env.REDIS_PREFIX) : null;
  const corsOrigins = parseCorsOrigins(env.ENCLAVE_CORS_ORIGINS);
  const limiter =
    opts.redis && env.GATEWAY_RATE_LIMIT_PER_MINUTE > 0
      ? createRateLimiter(opts.redis, env.REDIS_PREFIX, env.GATEWAY_RATE_LIMIT_PER_MINUTE)
      : null;
  const quotas: QuotaEnforcer | null = opts.redis
    ? createQuotaEnforcer(db, opts.redis, { prefix: env.REDIS_PREFIX, leaseMs: env.GATEWAY_REQUEST_TIMEOUT_MS + 5_000, refreshMs: opts.quotaRefreshMs })
    : null;
  type Admission = NonNullable<ReturnType<QuotaEnforcer['admit']>>;
  const admissions = new WeakMap<http.IncomingMessage, Admission>();
  /** Gives a request's quota reservation back with the tokens it used (once; nothing when it had none). */
  function releaseQuota(req: http.IncomingMessage, deploymentId: string | null, promptTokens: number | null, completionTokens: number | null) {
    const admitted = admissions.get(req);
    if (!admitted) return;
    admissions.delete(req);
    admitted.then(
      (r) => quotas!.release(r, deploymentId, promptTokens, completionTokens),
      () => {},
    );
  }
  /** Requests holding images: a fallback without vision is skipped for them. */
  const withImages = new WeakSet<http.IncomingMessage>();
  /** Prompt tokens charged at least: the images' estimate, or an audio request's (audio.ts). */
  const estimatedTokens = new WeakMap<http.IncomingMessage, number>();
  const imageLimits = { maxImageBytes: env.GATEWAY_MAX_IMAGE_BYTES, maxRequestBytes: env.GATEWAY_MAX_REQUEST_IMAGE_BYTES };
  // Images uploaded through /v1/files, referred to as image_url "enclave-file:<id>" (files.ts).
  const files = createFileStore(db, opts.masterKey, { ...imageLimits, maxStoredBytes: env.GATEWAY_MAX_STORED_FILE_BYTES });
  // A chat body may carry its images' base64 on top of the text limit; the text part is checked after parsing.
  const chatBodyLimit = env.GATEWAY_MAX_BODY_BYTES + Math.ceil((env.GATEWAY_MAX_REQUEST_IMAGE_BYTES * 4) / 3) + 64 * 1024;
  // Keep-alive to engines: a new TCP connection per request would cost more than everything else here.
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' });
  const hop = hopMarker(opts.masterKey);
  const forwardOptions = {
    agent,
    httpsAgent,
    hopMarker: hop,
    firstTokenTimeoutMs: env.GATEWAY_FIRST_TOKEN_TIMEOUT_MS,
    breaker: { failures: env.GATEWAY_BREAKER_FAILURES, cooldownMs: env.GATEWAY_BREAKER_COOLDOWN_MS },
    requestTimeoutMs: env.GATEWAY_REQUEST_TIMEOUT_MS,
    onDone: record,
    store(x: Exchange, answer: CachedAnswer) {
      const c = x.cache!;
      void responseCache?.put(c.hash, c.ttlSeconds, c.ownerId, answer);
    },
    fallback: fallbackFor,
  };

  /**
   * The next deployment for a request its own could not answer (before any byte reached the client):
   * the first of the asked deployment's fallback chain not tried yet, or, for a prompt too long for the
   * model, the longer-context deployment of the one that refused it. The caller must be allowed to use it
   * exactly as if they had asked for it (roles, groups, the key's model list), and its data-protection
   * policy applies to this request (refused there: skipped; masking there: masked). None usable: null,
   * and the caller gets the original error.
   */
  async function fallbackFor(x: Exchange, origin: Route, tried: ReadonlySet<string>, reason: FallbackReason): Promise<Fallback | null> {
    if (AUDIO_PATHS.has(x.path)) return null; // audio deployments have no fallback chain
    const ids = reason === 'context_length' ? [x.route.policy.contextFallbackId] : origin.policy.fallbackIds;
    for (const id of ids) {
      if (!id || tried.has(id) || !x.raw) continue;
      const route = table.byId(id);
      if (!route || route.status === 'stopped' || mayUse(route, x.caller, route.name) !== 'ok') continue;
      const body = parseBody(PATHS[x.path]!, x.raw);
      const images = withImages.has(x.req) ? 'images' : null;
      if (images && !route.vision) continue; // it would refuse the images
      let sent = x.raw;
      try {
        const guarded = protection.check(x.req, x.caller, route, body, images);
        if (guarded) sent = (await guarded) ?? x.raw;
      } catch {
        continue; // above what that deployment may receive
      }
      const prepared = x.stripUsage ? withUsageRequested(sent, body) : sent;
      return { route, body: withModel(prepared, route.upstream?.model ?? route.name) };
    }
    return null;
  }

  function record(x: Exchange, o: Outcome) {
    slots.release(x.req);
    // Images are charged at least their estimate (images.ts imageTokens), whatever the engine reports.
    const images = estimatedTokens.get(x.req);
    const charged = images !== undefined && (o.promptTokens ?? 0) < images ? images : o.promptTokens;
    releaseQuota(x.req, x.route.deploymentId, charged, o.completionTokens);
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
      clientAddress: clientAddress(x.req),
      experimentId: x.variant?.experimentId ?? null,
      variantId: x.variant?.id ?? null,
      tpotMs: o.tpotMs,
      itlMs: o.itlMs,
      cache: x.cache ? 'miss' : null,
      fallbackFromId: o.fallbackFromId,
      fallbackReason: o.fallbackReason,
    });
  }

  /** The request_logs row of a request no replica saw (a cache hit, a refusal): no replica, no retries, no experiment. */
  function unforwardedRow(
    req: http.IncomingMessage,
    caller: Caller,
    row: Pick<RequestLogRow, 'model' | 'deploymentId' | 'status' | 'e2eMs' | 'overheadMs'> & Partial<RequestLogRow>,
  ): RequestLogRow {
    return {
      createdAt: new Date(),
      apiKeyId: caller.keyId,
      userId: caller.userId,
      replicaId: null,
      errorType: null,
      stream: false,
      promptTokens: null,
      completionTokens: null,
      ttftMs: null,
      retries: 0,
      clientAddress: clientAddress(req),
      experimentId: null,
      variantId: null,
      tpotMs: null,
      itlMs: null,
      ...row,
    };
  }

  /**
   * A cached answer, sent as the live one would be: the completion object, or its SSE events ending
   * with [DONE] (usage only when asked for). Logged and charged like a live answer (the tokens the
   * answer holds count against the caller's budgets: what a caller may receive does not depend on
   * whether someone warmed the cache), with request_logs.cache = 'hit' and no replica.
   */
  function serveHit(req: http.IncomingMessage, res: http.ServerResponse, t0: number, route: Route, caller: Caller, body: ForwardedBody, path: string, answer: CachedAnswer) {
    const chat = path === '/v1/chat/completions';
    const stream = body.stream === true;
    const out = stream ? asSse(answer, chat, body.stream_options?.include_usage === true) : asJson(answer, chat);
    const overheadMs = performance.now() - t0;
    res.writeHead(
      200,
      stream
        ? { 'content-type': 'text/event-stream; charset=utf-8', 'x-accel-buffering': 'no', 'x-enclave-cache': 'hit', 'x-enclave-overhead-ms': overheadMs.toFixed(3) }
        : { 'content-type': 'application/json', 'content-length': out.length, 'x-enclave-cache': 'hit', 'x-enclave-overhead-ms': overheadMs.toFixed(3) },
    );
    res.end(out);
    const e2eMs = performance.now() - t0;
    const ttftMs = stream ? overheadMs : null;
    slots.release(req);
    releaseQuota(req, route.deploymentId, answer.promptTokens, answer.completionTokens);
    metrics.cache(route.deploymentId, 'hit');
    metrics.observe(route.name, route.deploymentId, 200, ttftMs, e2eMs, e2eMs);
    logs.push(
      unforwardedRow(req, caller, {
        model: route.name,
        deploymentId: route.deploymentId,
        status: 200,
        stream,
        promptTokens: answer.promptTokens,
        completionTokens: answer.completionTokens,
        ttftMs,
        e2eMs,
        overheadMs: e2eMs,
        cache: 'hit',
      }),
    );
  }

  /** A request refused before it reached an engine; logged only once the caller is known (no log flood from bad keys). */
  function refuse(req: http.IncomingMessage, res: http.ServerResponse, t0: number, err: GatewayError, caller?: Caller, model = '', route?: Route) {
    slots.release(req);
    releaseQuota(req, null, null, null);
    const overheadMs = performance.now() - t0;
    sendError(res, err, { 'x-enclave-overhead-ms': overheadMs.toFixed(3) });
    if (!caller) return;
    const e2eMs = performance.now() - t0;
    if (route) metrics.observe(route.name, route.deploymentId, err.status, null, e2eMs, overheadMs);
    logs.push(
      unforwardedRow(req, caller, {
        model: (model || route?.name || '').slice(0, 256),
        deploymentId: route?.deploymentId ?? null,
        status: err.status,
        errorType: err.code,
        e2eMs,
        overheadMs,
      }),
    );
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

  /**
   * A known caller's request takes its concurrency slot; the rate-limit round trip to Redis and the
   * quota's (one script: concurrency, requests per minute, token budgets; none without a quota) start
   * here and overlap with reading the body: the caller awaits both before doing the work.
   */
  function startAdmission(req: http.IncomingMessage, caller: Caller) {
    slots.acquire(req, caller);
    const limited = limiter?.check(caller.keyId ?? `user:${caller.userId}`);
    limited?.catch(() => {});
    const admitted = quotas?.admit(caller);
    if (admitted) {
      admitted.catch(() => {});
      admissions.set(req, admitted);
    }
    return { limited, admitted };
  }

  async function modelRequest(req: http.IncomingMessage, res: http.ServerResponse, t0: number, path: string) {
    let caller: Caller | undefined;
    let model = '';
    let route: Route | undefined;
    try {
      const authed = auth.authenticate(req.headers.authorization, req.headers['x-enclave-user-id']);
      caller = authed instanceof Promise ? await authed : authed;
      setRequestActor(req, caller);
      const { limited, admitted } = startAdmission(req, caller);
      const chat = path === '/v1/chat/completions';
      const audioPath = AUDIO_PATHS.has(path);
      // A transcription's form carries its audio file: the audio limit, plus room for the other fields.
      let raw = await readBody(req, audioPath ? env.GATEWAY_MAX_AUDIO_BYTES + 64 * 1024 : chat ? chatBodyLimit : env.GATEWAY_MAX_BODY_BYTES);
      if (limited) await limited;
      if (admitted) await admitted;
      let audio: AudioRequest | null = null;
      if (path === TRANSCRIPTIONS) audio = await parseTranscription(raw, req.headers['content-type'], env.GATEWAY_MAX_AUDIO_BYTES);
      else if (audioPath) audio = parseSpeech(raw);
      // Speech's JSON is screened like a prompt (its `input`); a transcription has no text to screen.
      const body: ForwardedBody = audio ? ((audio.json ?? { model: audio.model }) as ForwardedBody) : parseBody(PATHS[path]!, raw);
      model = body.model;
      if (audio) estimatedTokens.set(req, audio.estimatedTokens);
      // Uploaded images referred to by id become data: URLs first (the caller's own files only), so they
      // meet every rule an inline image does below; the engine, a fallback and the cache see the data: URL.
      const referenced = chat ? files.resolve(caller, body as ChatCompletionBody, imageLimits.maxRequestBytes) : null;
      if (referenced) {
        await referenced;
        raw = Buffer.from(JSON.stringify(body));
      }
      // Images: data: URLs only, checked (type, size); the rest of the body is held to the text limit.
      const images = chat ? inspectImages(body as ChatCompletionBody, imageLimits) : null;
      if (!audioPath && raw.length - (images?.dataChars ?? 0) > env.GATEWAY_MAX_BODY_BYTES)
        throw new GatewayError(413, 'invalid_request_error', 'request_too_large', `The request body is larger than ${env.GATEWAY_MAX_BODY_BYTES} bytes (not counting its images)`);
      if (images) {
        withImages.add(req);
        estimatedTokens.set(req, images.tokens);
      }
      const cached = table.get(model);
      // The synchronous hits (a deployment, or an experiment: both map lookups) are the hot path; a miss
      // or an empty route reloads the table first.
      // Experiments compare chat models: audio requests name a deployment.
      let experiment = cached || audio ? undefined : table.experiment(model);
      if (cached) route = cached.replicas.length > 0 ? cached : await table.resolve(model);
      else if (!experiment) {
        route = await table.resolve(model);
        if (!route && !audio) experiment = table.experiment(model);
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
        const why =
          access === 'key_scope' ? 'this API key is not allowed to use it' : access === 'group' ? 'it is granted to groups this account is not in' : `the role '${caller.role}' may not use it`;
        throw new GatewayError(403, 'permission_error', 'model_not_allowed', `The model '${model}' is not available: ${why}`, 'model');
      }
      // Nothing is forwarded to a deployment that would not understand the images (or silently drop them).
      if (images && !route.vision) throw visionRefusal(route.name);
      if (audio && !route.audio) throw audioRefusal(route.name, path);
      // Sensitive data above the deployment's level: refused (403) or masked; nothing to do (sync null) on most deployments.
      // Only a caller who asks has its history fitted to the model's context (context-trim.ts); never silently.
      const contextOptIn = req.headers[CONTEXT_HEADER];
      if (contextOptIn !== undefined && !audio) {
        const dropped = trimToContext(contextOptIn, path, body as ChatCompletionBody, route.contextTokens);
        if (dropped > 0) raw = Buffer.from(JSON.stringify(body));
        res.setHeader('x-enclave-context-dropped', String(dropped));
      }
      const guarded = protection.check(req, caller, route, body, images ? 'images' : path === TRANSCRIPTIONS ? 'audio' : null);
      const sent = guarded ? ((await guarded) ?? raw) : raw;
      const stream = body.stream === true;
      // The response cache: a hit is answered here; a miss is forwarded and its answer kept.
      let cache: Exchange['cache'] = null;
      // Embeddings are never cached: the cache keeps (and replays) completions.
      if (responseCache && route.policy.cacheMode !== 'off' && path !== '/v1/embeddings' && !audio) {
        if (variant || !isCacheable(route.policy.cacheMode, body) || !responseCache.available()) {
          res.setHeader('x-enclave-cache', 'bypass');
          metrics.cache(route.deploymentId, 'bypass');
        } else {
          const declared = protection.declaredLevel(req, caller);
          const hash = cacheKey(route, path, body, caller.userId, declared instanceof Promise ? await declared : declared);
          const hit = await responseCache.get(hash);
          if (hit) return serveHit(req, res, t0, route, caller, body, path, hit);
          res.setHeader('x-enclave-cache', 'miss');
          metrics.cache(route.deploymentId, 'miss');
          cache = { hash, ttlSeconds: route.policy.cacheTtlSeconds, ownerId: caller.userId };
        }
      }
      const stripUsage = stream && body.stream_options?.include_usage !== true;
      // Usage feeds the request log, so the engine is always asked for it; the client never sees it unasked.
      let upstreamBody = stripUsage ? withUsageRequested(sent, body) : sent;
      let contentType: string | undefined;
      // A transcription's form is rebuilt naming the model the engine serves (forward() renames JSON bodies only).
      if (audio?.form) ({ body: upstreamBody, contentType } = await formBody(audio.form, route.upstream?.model ?? route.name));
      forward({ req, res, t0, route, variant, model: experiment ? model : route.name, caller, path, body: upstreamBody, stream, stripUsage, raw, cache, contentType }, forwardOptions);
    } catch (err) {
      failed(req, res, t0, path, err, caller, model, route);
    }
  }

  /** A keyed request that threw: its 4xx/5xx answered and logged, or (499: the client left) its slot and quota given back. */
  function failed(req: http.IncomingMessage, res: http.ServerResponse, t0: number, path: string, err: unknown, caller?: Caller, model = '', route?: Route) {
    if (!(err instanceof GatewayError)) log.error('gateway request failed', { path, error: errorMessage(err) });
    const e = err instanceof GatewayError ? err : new GatewayError(500, 'api_error', 'internal_error', 'The gateway failed; try again');
    if (e.status === 499) {
      releaseQuota(req, null, null, null);
      return slots.release(req);
    }
    refuse(req, res, t0, e, caller, model, route);
  }

  /**
   * /v1/files (files.ts): upload, list, describe and delete the caller's images. Keyed, rate-limited and
   * admitted by quotas like a model request (an upload counts as a request; its image's tokens count when a
   * chat request refers to it), and logged once the caller is known, with no model or deployment.
   */
  async function filesRequest(req: http.IncomingMessage, res: http.ServerResponse, t0: number, path: string, { id, content }: FilesTarget) {
    let caller: Caller | undefined;
    try {
      const authed = auth.authenticate(req.headers.authorization, req.headers['x-enclave-user-id']);
      caller = authed instanceof Promise ? await authed : authed;
      setRequestActor(req, caller);
      const { limited, admitted } = startAdmission(req, caller);
      const status = 200;
      let out: unknown;
      let bytes: { mediaType: string; bytes: Buffer } | null = null;
      if (req.method === 'POST' && id === undefined) {
        // Multipart framing and the other fields on top of the image itself.
        const raw = await readBody(req, imageLimits.maxImageBytes + 64 * 1024);
        if (limited) await limited;
        if (admitted) await admitted;
        const q = (req.url ?? '').indexOf('?');
        out = await files.upload(caller, raw, req.headers['content-type'], new URLSearchParams(q === -1 ? '' : req.url!.slice(q + 1)));
      } else {
        if (limited) await limited;
        if (admitted) await admitted;
        if (id === undefined) out = { object: 'list', data: await files.list(caller) };
        else if (content) bytes = await files.content(caller, id);
        else if (req.method === 'GET') out = await files.get(caller, id);
        else out = await files.remove(caller, id);
      }
      const body = bytes ? bytes.bytes : JSON.stringify(out);
      const overheadMs = performance.now() - t0;
      res.writeHead(status, {
        'content-type': bytes ? bytes.mediaType : 'application/json',
        ...(bytes ? { 'content-disposition': 'attachment', 'x-content-type-options': 'nosniff' } : {}),
        'content-length': Buffer.byteLength(body),
        'x-enclave-overhead-ms': overheadMs.toFixed(3),
      });
      res.end(body);
      slots.release(req);
      releaseQuota(req, null, 0, 0);
      const e2eMs = performance.now() - t0;
      logs.push(unforwardedRow(req, caller, { model: '', deploymentId: null, status, e2eMs, overheadMs: e2eMs }));
    } catch (err) {
      failed(req, res, t0, path, err, caller);
    }
  }

  async function listModels(req: http.IncomingMessage, res: http.ServerResponse, t0: number) {
    try {
      const caller = await auth.authenticate(req.headers.authorization, req.headers['x-enclave-user-id']);
      setRequestActor(req, caller);
      await table.ready.catch(() => {});
      const data = [];
      for (const route of table.all()) {
        if (route.status === 'stopped' || mayUse(route, caller) !== 'ok') continue;
        data.push({ id: route.name, object: 'model', created: Math.floor(route.createdAt / 1000), owned_by: 'enclave' });
      }
      const now = Date.now();
      for (const e of table.experiments()) {
        const arms = e.winner ? [e.winner] : e.variants;
        // Every arm the caller could be assigned must be usable, as the chat's model list requires.
        if (!isLive(e, now) || arms.some((arm) => mayUse(arm.route, caller, e.name) !== 'ok')) continue;
        data.push({ id: e.name, object: 'model', created: Math.floor(arms[0]!.route.createdAt / 1000), owned_by: 'enclave' });
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
      logRequest(req, res, 'gateway', env.ENCLAVE_TRUSTED_PROXIES);
      // Completions are people's conversations: no cache between here and the client keeps them.
      res.setHeader('cache-control', 'no-store');
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      const loop = loopRefusal(req, hop);
      if (loop) return refuse(req, res, t0, loop);
      // Browser apps on listed origins only (none by default); a preflight is answered here.
      if ((req.method === 'OPTIONS' || req.headers.origin) && applyCors(req, res, corsOrigins)) return;
      if (PATHS[path]) {
        if (req.method === 'POST') return void modelRequest(req, res, t0, path);
        return refuse(req, res, t0, new GatewayError(405, 'invalid_request_error', 'method_not_allowed', `Use POST for ${path}`, null, { allow: 'POST' }));
      }
      if (AUDIO_PATHS.has(path)) {
        if (req.method === 'POST') return void modelRequest(req, res, t0, path);
        return refuse(req, res, t0, new GatewayError(405, 'invalid_request_error', 'method_not_allowed', `Use POST for ${path}`, null, { allow: 'POST' }));
      }
      const file = filesTarget(path);
      if (file) {
        if (file.methods.includes(req.method ?? '')) return void filesRequest(req, res, t0, path, file);
        return refuse(req, res, t0, new GatewayError(405, 'invalid_request_error', 'method_not_allowed', `Use ${file.methods.join(' or ')} for ${file.pattern}`, null, { allow: file.methods.join(', ') }));
      }
      if (path === '/v1/models') {
        if (req.method === 'GET') return void listModels(req, res, t0);
        return refuse(req, res, t0, new GatewayError(405, 'invalid_request_error', 'method_not_allowed', 'Use GET for /v1/models', null, { allow: 'GET' }));
      }
      refuse(req, res, t0, new GatewayError(404, 'invalid_request_error', 'unknown_url', `Unknown endpoint: ${req.method} ${path}`));
    },
    async refresh() {
      await Promise.all([table.refresh(), quotas?.refresh(), protectionSettings.refresh()]);
    },
    flushLogs: () => logs.flush(),
    async close() {
      stopPublishing?.();
      table.close();
      protectionSettings.close();
      quotas?.close();
      await credentials?.close();
      await logs.close();
      agent.destroy();
      httpsAgent.destroy();
    },
  };
}
