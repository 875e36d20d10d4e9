import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestScheme } from '../security/client-address';
import { hostAllowed, type SiteSettings } from '../security/site';
import { drainRequest } from './request-body';

/**
 * Nothing the browser loads may come from elsewhere: a private install never calls out, and model
 * output (say, a Markdown image) cannot make the browser reach another server. Scripts run only with
 * the page's nonce (Next.js puts it on its own scripts), so an injected <script> never runs; answers
 * that are not pages run no script at all.
 */
export function contentSecurityPolicy(nonce: string | null): string {
  const scripts = nonce ? `'self' 'nonce-${nonce}' 'strict-dynamic'` : "'none'";
  return (
    `default-src 'self'; script-src ${scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; ` +
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
  );
}

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  // No page needs a camera or a location: none may ask for one. The chat's voice input records on this origin only.
  'permissions-policy': 'camera=(), microphone=(self), geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), interest-cohort=()',
  'cross-origin-opener-policy': 'same-origin',
};

/** Probes and scrapers name the pod or node by address: these answer whatever the Host. */
const ANY_HOST = new Set(['/api/health', '/metrics']);

/**
 * The rules every web answer (pages, /api, /metrics) follows, applied before routing: the security
 * headers, HSTS when the client came over TLS, and a 421 for a Host that does not name this site (DNS
 * rebinding). Returns false when it has answered. Pages get a fresh nonce: set in the answer's policy
 * and in the request's, where Next.js reads it.
 */
export function applySiteRules(req: IncomingMessage, res: ServerResponse, settings: SiteSettings, pathname: string, kind: 'page' | 'other'): boolean {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
  // Over Enclave's own TLS the listener has already said it, as ENCLAVE_HSTS_MAX_AGE asks (server/http/tls.ts,
  // which may be "not at all"); behind a TLS proxy it is said here.
  const ownTls = (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
  if (requestScheme(req) === 'https' && !ownTls) res.setHeader('strict-transport-security', 'max-age=31536000');
  if (!ANY_HOST.has(pathname) && !hostAllowed(settings, req.headers.host)) {
    drainRequest(req);
    const body = JSON.stringify({
      error: {
        message: `This server does not answer to the host '${String(req.headers.host ?? '').slice(0, 100)}': add its URL to ENCLAVE_PUBLIC_URL`,
        code: 'MISDIRECTED_REQUEST',
        status: 421,
      },
    });
    res.writeHead(421, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return false;
  }
  if (kind === 'page') {
    const csp = contentSecurityPolicy(randomBytes(16).toString('base64'));
    res.setHeader('content-security-policy', csp);
    req.headers['content-security-policy'] = csp;
  } else {
    res.setHeader('content-security-policy', contentSecurityPolicy(null));
    // /api answers may carry decrypted chats: no cache may keep them.
    res.setHeader('cache-control', 'no-store');
  }
  return true;
}
