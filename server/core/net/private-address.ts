import net from 'node:net';
import { canonicalAddress } from './addresses';

/**
 * Addresses whose traffic stays on the organisation's own network: loopback, RFC 1918, shared address
 * space (100.64/10, used by carrier NAT and by overlay networks such as Tailscale), IPv6 unique local.
 * Engines speak plain HTTP with their replica's secret in every request: they may be reached unencrypted
 * only at such an address (server/fleet/nodes/remote-agent.ts, server/gateway/routing-table.ts).
 */
const PRIVATE = (() => {
  const list = new net.BlockList();
  for (const [address, prefix] of [
    ['127.0.0.0', 8],
    ['10.0.0.0', 8],
    ['172.16.0.0', 12],
    ['192.168.0.0', 16],
    ['100.64.0.0', 10],
  ] as const)
    list.addSubnet(address, prefix, 'ipv4');
  list.addSubnet('::1', 128, 'ipv6');
  list.addSubnet('fc00::', 7, 'ipv6');
  return list;
})();

/** True for an IP address on a private network or loopback; false for any other address and for host names. */
export function isPrivateAddress(raw: string): boolean {
  const address = canonicalAddress(raw);
  if (!address) return false;
  return PRIVATE.check(address, net.isIPv6(address) ? 'ipv6' : 'ipv4');
}
