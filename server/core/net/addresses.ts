import net from 'node:net';

/** What an IP address is, as far as calling it from Enclave goes. */
export type AddressKind = 'loopback' | 'unspecified' | 'link-local' | 'metadata' | 'multicast' | 'broadcast' | 'reserved' | 'ordinary';
export type RefusedKind = Exclude<AddressKind, 'ordinary'> | 'this-host' | 'own-listener';

export const KIND_WORDS: Record<RefusedKind, string> = {
  loopback: 'a loopback address',
  unspecified: 'an unspecified address (it reaches this host)',
  'link-local': 'a link-local address',
  metadata: 'a cloud metadata address',
  multicast: 'a multicast address',
  broadcast: 'a broadcast address',
  reserved: 'a reserved address',
  'this-host': 'an address of this host',
  'own-listener': 'this install itself',
};

function blockList(subnets: [string, number][]): net.BlockList {
  const list = new net.BlockList();
  for (const [address, prefix] of subnets) list.addSubnet(address, prefix, net.isIPv6(address) ? 'ipv6' : 'ipv4');
  return list;
}

// Instance metadata services hand out cloud credentials: 169.254.169.254 (AWS, GCP, Azure, OpenStack,
// DigitalOcean, Oracle), 169.254.170.2 (ECS task roles), 169.254.170.23 (EKS pod identity), fd00:ec2::254
// (AWS over IPv6), 100.100.100.200 (Alibaba), 192.0.0.192 (Oracle's legacy endpoint).
const METADATA = blockList([
  ['169.254.169.254', 32],
  ['169.254.170.2', 32],
  ['169.254.170.23', 32],
  ['fd00:ec2::254', 128],
  ['100.100.100.200', 32],
  ['192.0.0.192', 32],
]);

// Checked in order: the broadcast address sits inside 240/4. Private ranges (10/8, 172.16/12, 192.168/16,
// fc00::/7, 100.64/10) are ordinary on purpose: an upstream or a webhook receiver on the bank's own
// network is the normal case.
const RANGES: [Exclude<AddressKind, 'ordinary' | 'metadata'>, net.BlockList][] = [
  ['unspecified', blockList([['0.0.0.0', 8], ['::', 128]])],
  ['loopback', blockList([['127.0.0.0', 8], ['::1', 128]])],
  ['link-local', blockList([['169.254.0.0', 16], ['fe80::', 10]])],
  ['multicast', blockList([['224.0.0.0', 4], ['ff00::', 8]])],
  ['broadcast', blockList([['255.255.255.255', 32]])],
  ['reserved', blockList([['240.0.0.0', 4]])],
];

/** The eight 16-bit words of an IPv6 address (one that net.isIPv6 accepted), dotted-quad tails included. */
function ipv6Words(ip: string): number[] {
  let text = ip;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  return [...h, ...Array<string>(fill).fill('0'), ...t].map((w) => parseInt(w, 16));
}

/**
 * The IPv4 address an IPv6 one carries, when connecting to it reaches that IPv4 address: mapped
 * (::ffff:127.0.0.1), NAT64 (64:ff9b::7f00:1) and the deprecated compatible form (::127.0.0.1).
 */
function embeddedIPv4(w: number[]): string | null {
  const zeros = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);
  const mapped = zeros(0, 5) && w[5] === 0xffff;
  const nat64 = w[0] === 0x64 && w[1] === 0xff9b && zeros(2, 6);
  const compatible = zeros(0, 6) && !(w[6] === 0 && (w[7] === 0 || w[7] === 1));
  if (!mapped && !nat64 && !compatible) return null;
  return [w[6]! >> 8, w[6]! & 0xff, w[7]! >> 8, w[7]! & 0xff].join('.');
}

/** An IP address as it is compared: no brackets or zone, lower case, IPv4 when an IPv6 form only wraps one. */
export function canonicalAddress(raw: string): string | null {
  const address = raw.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '').toLowerCase();
  const family = net.isIP(address);
  if (family === 4) return address;
  if (family !== 6) return null;
  // One spelling per address (no compression, no leading zeros), so set lookups cannot be dodged.
  const words = ipv6Words(address);
  return embeddedIPv4(words) ?? words.map((w) => w.toString(16)).join(':');
}

/** What an IP address is; null for anything that is not one (a host name). */
export function classifyAddress(raw: string): { address: string; kind: AddressKind } | null {
  const address = canonicalAddress(raw);
  if (!address) return null;
  const type = net.isIPv6(address) ? 'ipv6' : 'ipv4';
  if (METADATA.check(address, type)) return { address, kind: 'metadata' };
  for (const [kind, list] of RANGES) if (list.check(address, type)) return { address, kind };
  return { address, kind: 'ordinary' };
}
