import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { requestScheme } from './client-address';

export interface SiteSettings {
  /** ENCLAVE_PUBLIC_URL: the URLs people reach Enclave at, comma-separated. */
  ENCLAVE_PUBLIC_URL?: string;
}

interface Site {
  names: Set<string>;
  schemes: Map<string, 'http' | 'https'>;
}

const cache = new WeakMap<object, Site>();

function hostName(host: string): string {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d*$/, '');
  return name.toLowerCase().replace(/\.$/, '');
}

function site(settings: SiteSettings): Site {
  let s = cache.get(settings);
  if (!s) {
    const urls = (settings.ENCLAVE_PUBLIC_URL ?? '')
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean)
      .map((u) => new URL(u));
    const names = new Set(urls.map((u) => hostName(u.host)));
    const schemes = new Map(urls.map((u) => [hostName(u.host), u.protocol === 'https:' ? ('https' as const) : ('http' as const)]));
    // Unconfigured, the machine's own name is the one people will type.
    if (urls.length === 0) names.add(os.hostname().toLowerCase());
    s = { names, schemes };
    cache.set(settings, s);
  }
  return s;
}

/**
 * Whether a Host header names this install. DNS rebinding points an attacker's name at Enclave, so
 * names are checked: the public URL's (or, unconfigured, this machine's name) and `localhost`. IP
 * literals are always fine: nobody can rebind a name that is not there.
 */
export function hostAllowed(settings: SiteSettings, host: string | undefined): boolean {
  if (!host) return false;
  const name = hostName(host);
  if (!name) return false;
  if (net.isIP(name)) return true;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return site(settings).names.has(name);
}

/** The origin a browser page of this install sends with a request: the configured scheme for the host, else the connection's. */
export function expectedOrigin(settings: SiteSettings, req: Pick<IncomingMessage, 'headers' | 'socket'>): string | null {
  const host = req.headers.host;
  if (!host) return null;
  const scheme = site(settings).schemes.get(hostName(host)) ?? requestScheme(req as IncomingMessage);
  return `${scheme}://${host.toLowerCase()}`;
}
