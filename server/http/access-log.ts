import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type net from 'node:net';
import { log } from '../core/log';
import { inList, normalizeAddress, parseAddressList } from '../core/net/address-list';

type Logged = IncomingMessage & { enclaveRequestId?: string; enclaveActor?: string };

/** An incoming X-Request-Id worth keeping: short, and nothing a log line could be broken or smuggled with. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** A path segment kept as it is: a word of the route (letters, '-', '_', '.', ','), or an API version (v1); never anything else with a digit. */
const ROUTE_WORD = /^(?:[A-Za-z_][A-Za-z_.,-]{0,63}|v[0-9]{1,2})$/;
const MAX_SEGMENTS = 8;

/**
 * The route a path belongs to, never the raw URL: no query string, and every segment that is not a
 * plain word (an id, a number, a token, a file name with a hash) becomes `:id`, so neither ids nor a
 * secret someone put in a URL reach the log. `/api/conversations/6f1c…/export?format=md` →
 * `/api/conversations/:id/export`.
 */
export function routePattern(url: string | undefined): string {
  const raw = (url ?? '/').split('?')[0]!.split('#')[0]!;
  const segments = raw.split('/').filter(Boolean);
  const kept = segments.slice(0, MAX_SEGMENTS).map((s) => (ROUTE_WORD.test(s) ? s : ':id'));
  return '/' + kept.join('/') + (segments.length > MAX_SEGMENTS ? '/…' : '');
}

let parsed: { text: string | undefined; list: net.BlockList | null } | undefined;
/** ENCLAVE_TRUSTED_PROXIES parsed once (env has already refused a malformed list at start). */
function proxies(text: string | undefined): net.BlockList | null {
  if (!parsed || parsed.text !== text) parsed = { text, list: text ? parseAddressList(text, 'ENCLAVE_TRUSTED_PROXIES') : null };
  return parsed.list;
}

/** The request's id: one a trusted proxy sent (X-Request-Id), else a new one. From anyone else the header is ignored, as it could be forged to pollute correlation. */
export function requestIdOf(req: IncomingMessage, trustedProxies: net.BlockList | null): string {
  const r = req as Logged;
  if (r.enclaveRequestId) return r.enclaveRequestId;
  const offered = req.headers['x-request-id'];
  const peer = normalizeAddress(req.socket?.remoteAddress ?? '');
  const trusted = trustedProxies !== null && typeof offered === 'string' && REQUEST_ID.test(offered) && inList(trustedProxies, peer);
  r.enclaveRequestId = trusted ? offered : randomUUID();
  return r.enclaveRequestId;
}

/** Who made the request, once known (a user's or a key's id; never an email, a name or a secret). */
export function setRequestActor(req: IncomingMessage, actor: { userId?: string | null; keyId?: string | null } | null | undefined): void {
  if (!actor) return;
  const id = actor.keyId ? `key:${actor.keyId}` : actor.userId ? `user:${actor.userId}` : undefined;
  if (id) (req as Logged).enclaveActor = id;
}

/**
 * One JSON line per HTTP request, for ELK, Loki or any shipper: `{"level":"info","msg":"http",
 * "requestId","role","method","route","status","ms","actor"?,…}`, written when the response ends (or
 * the client goes). The id is echoed in the X-Request-Id header. Nothing else of the request is read:
 * no body, no query string, no header but the id.
 */
export function logRequest(req: IncomingMessage, res: ServerResponse, role: 'web' | 'gateway', trustedProxies: string | undefined): void {
  const t0 = performance.now();
  const requestId = requestIdOf(req, proxies(trustedProxies));
  if (!res.headersSent) res.setHeader('x-request-id', requestId);
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    const actor = (req as Logged).enclaveActor;
    log.info('http', {
      requestId,
      role,
      method: req.method,
      route: routePattern(req.url),
      status: res.writableFinished ? res.statusCode : res.headersSent ? res.statusCode : 499,
      ms: Math.round((performance.now() - t0) * 10) / 10,
      ...(actor ? { actor } : {}),
      ...(res.writableFinished ? {} : { aborted: true }),
    });
  };
  res.once('finish', finish);
  res.once('close', finish);
}
