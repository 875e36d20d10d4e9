import { createHmac } from 'node:crypto';
import type http from 'node:http';
import { GatewayError } from './errors';

/**
 * Loops through upstream deployments. The gateway names this install in a header on every request it
 * sends to an upstream, after the names already there; a /v1 request that arrives carrying this install's
 * name went out from here and came back (an upstream pointing at the gateway, by any address or DNS
 * alias), so it is refused before any work instead of recursing. A chain through other installs that
 * loops back is caught the same way, and one longer than MAX_HOPS is refused outright.
 */
export const HOP_HEADER = 'x-enclave-hop';
export const MAX_HOPS = 8;

/** This install's name in the header: the same in every gateway process (it derives from the master key), opaque to anyone else. */
export function hopMarker(masterKey: Buffer): string {
  return createHmac('sha256', masterKey).update('enclave gateway hop').digest('base64url').slice(0, 22);
}

function hopsOf(req: http.IncomingMessage): string[] {
  const raw = req.headers[HOP_HEADER];
  if (!raw) return [];
  return (Array.isArray(raw) ? raw.join(',') : raw)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The refusal for a request that looped (508, OpenAI's error shape), or null. */
export function loopRefusal(req: http.IncomingMessage, marker: string): GatewayError | null {
  const hops = hopsOf(req);
  if (hops.includes(marker))
    return new GatewayError(508, 'api_error', 'loop_detected', 'This request came back to the Enclave gateway that sent it: an upstream deployment leads back here');
  if (hops.length >= MAX_HOPS) return new GatewayError(508, 'api_error', 'loop_detected', `This request already passed through ${hops.length} gateways`);
  return null;
}

/** The header value to send upstream: the hops so far, then this install. */
export function nextHops(req: http.IncomingMessage, marker: string): string {
  return [...hopsOf(req), marker].join(', ');
}
