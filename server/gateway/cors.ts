import type http from 'node:http';
import type { CorsOrigins } from '../core/net/origins';
import { GatewayError, sendError } from './errors';

/**
 * CORS for browser clients of /v1 (a web app of the organisation calling the gateway with its own API
 * key): only origins listed in ENCLAVE_CORS_ORIGINS, none by default. No cookies cross (API keys travel
 * in the Authorization header), so credentials are never allowed; the origin is echoed, never `*`.
 */
/** Enclave's own headers are set by its web role, never by a browser (the caller's user, the conversation's level). */
const internalHeader = (h: string) => h.startsWith('x-enclave-');
const EXPOSED = 'retry-after, x-enclave-overhead-ms, x-enclave-variant, x-enclave-variant-id, x-enclave-quota-limit, x-enclave-cache, x-enclave-context-dropped';

/**
 * Sets the CORS headers for an allowed origin; answers a preflight (OPTIONS) itself. Returns true when the
 * request was answered here (a preflight), false when it goes on.
 */
export function applyCors(req: http.IncomingMessage, res: http.ServerResponse, origins: CorsOrigins): boolean {
  const origin = req.headers.origin;
  const preflight = req.method === 'OPTIONS';
  if (!origin || origins.size === 0 || !origins.has(origin)) {
    if (!preflight) return false;
    // A preflight from an origin not on the list: no CORS headers, so the browser stops there.
    const message = origin ? `The origin ${origin} may not call this API from a browser (ENCLAVE_CORS_ORIGINS)` : 'OPTIONS is only for CORS preflights';
    sendError(res, new GatewayError(403, 'invalid_request_error', 'cors_origin_not_allowed', message), { vary: 'origin' });
    return true;
  }
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('vary', 'origin');
  if (!preflight) {
    res.setHeader('access-control-expose-headers', EXPOSED);
    return false;
  }
  const asked = String(req.headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  // What SDKs send (OpenAI's adds x-stainless-*) is allowed; only Enclave's internal headers are not.
  const refused = asked.filter(internalHeader);
  if (refused.length > 0) {
    sendError(res, new GatewayError(403, 'invalid_request_error', 'cors_header_not_allowed', `These request headers are not allowed: ${refused.join(', ')}`));
    return true;
  }
  res.writeHead(204, {
    'access-control-allow-methods': 'GET, POST',
    'access-control-allow-headers': ['authorization', 'content-type', ...asked.filter((h) => h !== 'authorization' && h !== 'content-type')].join(', '),
    'access-control-max-age': '600',
  });
  res.end();
  return true;
}
