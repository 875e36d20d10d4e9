import net from 'node:net';
import { canonicalAddress } from './addresses';

/**
 * One entry of ENCLAVE_OUTBOUND_ALLOW: a host name, an IP address or a CIDR range, optionally with a
 * port ("vllm.lan", "10.1.2.3:8000", "127.0.0.1", "fd00::/8", "[::1]:8000", "[fd00::/8]:443").
 */
export interface AllowEntry {
  text: string;
  /** A host name entry (lower case, no trailing dot). */
  host?: string;
  /** An address or range entry. */
  range?: net.BlockList;
  port?: number;
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

export function normaliseHostName(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

function parseEntry(text: string): AllowEntry {
  let body = text;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) [, body, port] = bracketed as unknown as [string, string, string | undefined];
  else if ((text.match(/:/g) ?? []).length === 1) [body, port] = text.split(':') as [string, string];
  const entry: AllowEntry = { text };
  if (port !== undefined) {
    const n = Number(port);
    if (!/^\d{1,5}$/.test(port) || n < 1 || n > 65535) throw new Error(`'${text}': the port must be 1 to 65535`);
    entry.port = n;
  }
  const slash = body.indexOf('/');
  const ip = slash === -1 ? body : body.slice(0, slash);
  const address = canonicalAddress(ip);
  if (address) {
    const v6 = net.isIPv6(address);
    const max = v6 ? 128 : 32;
    const length = slash === -1 ? String(max) : body.slice(slash + 1);
    // A range written in the IPv4-mapped form (::ffff:10.0.0.0/104) is the IPv4 range it covers.
    const prefix = Number(length) - (slash !== -1 && net.isIPv6(ip) && !v6 ? 96 : 0);
    if (!/^\d{1,3}$/.test(length) || prefix < 0 || prefix > max) throw new Error(`'${text}': the prefix length must be 0 to ${max}`);
    entry.range = new net.BlockList();
    entry.range.addSubnet(address, prefix, v6 ? 'ipv6' : 'ipv4');
    return entry;
  }
  const host = normaliseHostName(body);
  if (slash !== -1 || !HOST_NAME.test(host)) throw new Error(`'${text}' is not a host name, an IP address or a CIDR range`);
  entry.host = host;
  return entry;
}

/** Parses the comma-separated list; throws naming the first bad entry. */
export function parseAllowList(text: string): AllowEntry[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(parseEntry);
}

export interface Destination {
  /** The host as the URL names it (a name, or the address itself), normalised. */
  hostname: string;
  /** The canonical address about to be connected to; null for a check made before DNS. */
  address: string | null;
  port: number;
  /** A host name entry never opens a metadata address: only an address entry can. */
  metadata: boolean;
}

export function allowedBy(entries: readonly AllowEntry[], d: Destination): AllowEntry | undefined {
  return entries.find((e) => {
    if (e.port !== undefined && e.port !== d.port) return false;
    if (e.host) return !d.metadata && e.host === d.hostname;
    return d.address !== null && e.range!.check(d.address, net.isIPv6(d.address) ? 'ipv6' : 'ipv4');
  });
}
