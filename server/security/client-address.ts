import type { IncomingMessage } from 'node:http';

/**
 * The address a request came from. The socket's peer address only: X-Forwarded-For is trivially
 * forged, and trusting it would let anyone dodge the sign-in rate limit. Behind an ingress the
 * lead's server can set `req.enclaveClientAddress` from a trusted proxy header.
 */
export function clientAddress(req: IncomingMessage & { enclaveClientAddress?: string }): string {
  return req.enclaveClientAddress ?? req.socket?.remoteAddress ?? 'unknown';
}
