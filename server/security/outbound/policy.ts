import dns from 'node:dns';
import os from 'node:os';
import { env, type Env } from '../../core/env';
import { canonicalAddress, classifyAddress, KIND_WORDS, type RefusedKind } from '../../core/net/addresses';
import { allowedBy, normaliseHostName, parseAllowList } from '../../core/net/allow-list';

/**
 * The one outbound policy for every URL someone gave Enclave to call (an upstream API, a load-test
 * target, an alert webhook): http and https only; loopback, link-local, metadata, multicast, reserved
 * addresses, this host's own addresses and this install's own URLs are refused unless
 * ENCLAVE_OUTBOUND_ALLOW names them. Checked on the URL when it is saved and again on every address a
 * connection actually uses, after DNS, so a name that later resolves elsewhere gains nothing.
 */
export interface OutboundConfig {
  /** ENCLAVE_OUTBOUND_ALLOW as written. */
  allow: string;
  /** Where this install serves that may not be one of this host's addresses (its gateway and public URLs). */
  ownEndpoints: { host: string; port: number }[];
}

export class OutboundRefused extends Error {
  readonly code = 'EOUTBOUNDREFUSED';
  constructor(readonly reason: string) {
    super(`refused by the outbound policy: ${reason}`);
    this.name = 'OutboundRefused';
  }
}

export type Resolve = (hostname: string) => Promise<{ address: string; family: number }[]>;

export interface OutboundPolicy {
  readonly config: OutboundConfig;
  /** Why this URL may not be called, judged before any DNS lookup; null when it may. */
  checkUrl(url: URL): string | null;
  /** The host part of checkUrl: a literal address, a metadata or localhost name, this install's gateway. */
  checkHost(hostname: string, port: number): string | null;
  /** Why a connection to `address` (what `hostname` resolved to) is refused; null when it is not. */
  checkAddress(hostname: string, address: string, port: number): string | null;
  /** Every address the name resolves to, each checked; throws OutboundRefused when one is refused. */
  resolve(hostname: string, port: number): Promise<{ address: string; family: number }[]>;
}

// Names that resolve to an instance metadata service on the clouds that publish one.
const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal', 'metadata.tencentyun.com']);
const HINT = ' (not in ENCLAVE_OUTBOUND_ALLOW)';
const LOOPBACK = [canonicalAddress('127.0.0.1')!, canonicalAddress('::1')!];
const INTERFACES_TTL_MS = 10_000;

export function defaultPort(protocol: string): number {
  return protocol === 'https:' ? 443 : 80;
}

/** A URL's host without IPv6 brackets or a trailing dot, in lower case. */
export function hostOf(hostname: string): string {
  return normaliseHostName(hostname.replace(/^\[(.*)\]$/, '$1'));
}

export function createOutboundPolicy(config: OutboundConfig, opts: { resolve?: Resolve } = {}): OutboundPolicy {
  const entries = parseAllowList(config.allow);
  const own = config.ownEndpoints.map((e) => ({ host: hostOf(e.host), address: canonicalAddress(e.host), port: e.port }));
  const resolveName: Resolve = opts.resolve ?? ((hostname) => dns.promises.lookup(hostname, { all: true }));
  let interfaces = { at: 0, addresses: new Set<string>() };

  // Interfaces come and go (DHCP, VPNs): re-read now and then rather than once at start.
  function thisHost(): Set<string> {
    if (Date.now() - interfaces.at > INTERFACES_TTL_MS) {
      const addresses = new Set<string>();
      for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) addresses.add(canonicalAddress(i.address)!);
      interfaces = { at: Date.now(), addresses };
    }
    return interfaces.addresses;
  }

  function refusedKind(address: string, kind: string, port: number): RefusedKind | null {
    if (kind !== 'ordinary') return kind as RefusedKind;
    if (own.some((e) => e.address === address && e.port === port)) return 'own-listener';
    if (thisHost().has(address)) return 'this-host';
    return null;
  }

  function checkAddress(hostname: string, address: string, port: number): string | null {
    const c = classifyAddress(address);
    if (!c) return `${address} is not an IP address`;
    const kind = refusedKind(c.address, c.kind, port);
    if (!kind) return null;
    const host = hostOf(hostname);
    if (allowedBy(entries, { hostname: host, address: c.address, port, metadata: kind === 'metadata' })) return null;
    const literal = canonicalAddress(host) !== null;
    return literal ? `${host} is ${KIND_WORDS[kind]}${HINT}` : `${host} resolves to ${hostOf(address)}, ${KIND_WORDS[kind]}${HINT}`;
  }

  function checkHost(hostname: string, port: number): string | null {
    const host = hostOf(hostname);
    if (!host) return 'the URL names no host';
    if (canonicalAddress(host)) return checkAddress(host, host, port);
    if (METADATA_NAMES.has(host)) return `${host} is a cloud metadata host name`;
    const byName = (address: string | null) => allowedBy(entries, { hostname: host, address, port, metadata: false });
    // RFC 6761: these names are loopback whatever DNS says, so they are judged before any lookup.
    if ((host === 'localhost' || host.endsWith('.localhost')) && !byName(null) && !LOOPBACK.some(byName)) return `${host} is a loopback host name${HINT}`;
    if (own.some((e) => e.host === host && e.port === port) && !byName(null)) return `${host}:${port} is ${KIND_WORDS['own-listener']}${HINT}`;
    return null;
  }

  return {
    config,
    checkHost,
    checkAddress,
    checkUrl(url) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return `only http:// and https:// URLs may be called, not ${url.protocol}`;
      return checkHost(url.hostname, Number(url.port) || defaultPort(url.protocol));
    },
    async resolve(hostname, port) {
      const host = hostOf(hostname);
      const addresses = canonicalAddress(host) ? [{ address: host, family: host.includes(':') ? 6 : 4 }] : await resolveName(host);
      for (const a of addresses) {
        const why = checkAddress(host, a.address, port);
        if (why) throw new OutboundRefused(why);
      }
      return addresses;
    },
  };
}

/**
 * The policy's settings from the configuration: the allow-list, and where this install serves besides
 * this host's own addresses: the gateway URL other roles use and the public URLs people reach it at.
 */
export function outboundConfig(e: Pick<Env, 'ENCLAVE_OUTBOUND_ALLOW' | 'ENCLAVE_GATEWAY_URL'> & { ENCLAVE_PUBLIC_URL?: string }): OutboundConfig {
  const ownEndpoints: OutboundConfig['ownEndpoints'] = [];
  for (const text of [e.ENCLAVE_GATEWAY_URL, ...(e.ENCLAVE_PUBLIC_URL ?? '').split(',')]) {
    if (!text?.trim() || !URL.canParse(text.trim())) continue;
    const u = new URL(text.trim());
    ownEndpoints.push({ host: u.hostname, port: Number(u.port) || defaultPort(u.protocol) });
  }
  return { allow: e.ENCLAVE_OUTBOUND_ALLOW, ownEndpoints };
}

let shared: OutboundPolicy | undefined;
/** The process-wide policy, from the configuration validated at start. */
export function outboundPolicy(): OutboundPolicy {
  shared ??= createOutboundPolicy(outboundConfig(env()));
  return shared;
}
