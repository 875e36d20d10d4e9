import type { IncomingMessage } from 'node:http';
import { DomainError } from '../core/errors';
import { expectedOrigin, type SiteSettings } from './site';

/**
 * Why a state-changing request is refused as possibly cross-site, or null when it is fine.
 * A cross-site HTML form cannot send `application/json` without a CORS preflight (which Enclave never
 * grants), and a browser always names the page's origin on a cross-site POST: it must be exactly this
 * site's, scheme included (an https page must not drive an http install, nor the reverse). The
 * SameSite=Lax session cookie covers the rest.
 */
export function crossSiteRefusal(req: Pick<IncomingMessage, 'headers' | 'socket'>, settings: SiteSettings): DomainError | null {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return new DomainError('FORBIDDEN', 'Requests that change data must be sent as application/json');
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const expected = expectedOrigin(settings, req);
    if (!expected || origin.toLowerCase() !== expected) return new DomainError('FORBIDDEN', 'Cross-site request refused: the Origin does not match this site');
  }
  if (req.headers['sec-fetch-site'] === 'cross-site') return new DomainError('FORBIDDEN', 'Cross-site request refused');
  return null;
}
