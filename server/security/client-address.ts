import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import { inList, normalizeAddress } from '../core/net/address-list';

type Identified = IncomingMessage & { enclaveClientAddress?: string; enclaveScheme?: 'http' | 'https' };

/**
 * Works out once per request who sent it and over which scheme: the socket's peer, unless that peer
 * is a trusted proxy (ENCLAVE_TRUSTED_PROXIES), in which case the nearest X-Forwarded-For entry that
 * is not itself a trusted proxy, and X-Forwarded-Proto. From anyone else those headers are ignored:
 * they are trivially forged, and believing them would let anyone dodge the sign-in limits.
 */
export function identifyClient(req: IncomingMessage, trustedProxies: net.BlockList | null): void {
  const r = req as Identified;
  const peer = normalizeAddress(req.socket?.remoteAddress ?? 'unknown');
  let address = peer;
  let scheme: 'http' | 'https' = (req.socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http';
  if (trustedProxies && inList(trustedProxies, peer)) {
    const forwarded = String(req.headers['x-forwarded-for'] ?? '')
      .split(',')
      .map((s) => normalizeAddress(s.trim()))
      .filter((s) => net.isIP(s));
    for (let i = forwarded.length - 1; i >= 0; i--) {
      address = forwarded[i]!;
      if (!inList(trustedProxies, address)) break;
    }
    const proto = String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]!.trim().toLowerCase();
    if (proto === 'https' || proto === 'http') scheme = proto;
  }
  r.enclaveClientAddress = address;
  r.enclaveScheme = scheme;
}

/** The address a request came from (see identifyClient); the socket's peer when it was not identified. */
export function clientAddress(req: IncomingMessage): string {
  return (req as Identified).enclaveClientAddress ?? normalizeAddress(req.socket?.remoteAddress ?? 'unknown');
}

/** 'https' when the client's connection (to Enclave, or to the trusted proxy in front) was TLS. */
export function requestScheme(req: IncomingMessage): 'http' | 'https' {
  return (req as Identified).enclaveScheme ?? ((req.socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http');
}
