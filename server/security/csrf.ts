import type { IncomingMessage } from 'node:http';
import { DomainError } from './errors';

/**
 * Why a state-changing request is refused as possibly cross-site, or null when it is fine.
 * A cross-site HTML form cannot send `application/json` without a CORS preflight (which Enclave never
 * grants), and a browser always names the page's origin on a cross-site POST; the SameSite=Lax
 * session cookie covers the rest.
 */
export function crossSiteRefusal(req: Pick<IncomingMessage, 'headers'>): DomainError | null {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return new DomainError('FORBIDDEN', 'Requests that change data must be sent as application/json');
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let originHost: string | undefined;
    try {
      originHost = origin === 'null' ? undefined : new URL(origin).host;
    } catch {
      originHost = undefined;
    }
    if (!originHost || originHost.toLowerCase() !== (req.headers.host ?? '').toLowerCase())
      return new DomainError('FORBIDDEN', 'Cross-site request refused: the Origin does not match this site');
  }
  if (req.headers['sec-fetch-site'] === 'cross-site') return new DomainError('FORBIDDEN', 'Cross-site request refused');
  return null;
}
