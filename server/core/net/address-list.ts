import net from 'node:net';

/** `::ffff:10.0.0.1` and `10.0.0.1` are one client: limits and audit rows must not count them twice. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * Parses a comma-separated list of addresses and CIDR blocks ("10.0.0.0/8, ::1, 192.0.2.7").
 * Throws naming the entry that is neither.
 */
export function parseAddressList(text: string | undefined, name = 'the list'): net.BlockList {
  const list = new net.BlockList();
  for (const raw of (text ?? '').split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : null;
    const prefix = bits === undefined ? undefined : Number(bits);
    if (!family || (prefix !== undefined && (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 'ipv4' ? 32 : 128))))
      throw new Error(`${name}: '${entry}' is not an IP address or a CIDR block`);
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, prefix, family);
  }
  return list;
}

export function inList(list: net.BlockList, address: string): boolean {
  const a = normalizeAddress(address);
  return net.isIPv4(a) ? list.check(a, 'ipv4') : net.isIPv6(a) ? list.check(a, 'ipv6') : false;
}

export function isLoopback(address: string): boolean {
  const a = normalizeAddress(address);
  return a === '::1' || (net.isIPv4(a) && a.startsWith('127.'));
}
