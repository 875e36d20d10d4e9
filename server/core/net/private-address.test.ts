import { expect, it } from 'vitest';
import { isPrivateAddress } from './private-address';

it('knows private and loopback addresses, in every spelling, from public ones and host names', () => {
  for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.10', '100.64.0.1', '::1', 'fd12::1', '[fd00::2]', '::ffff:10.0.0.1'])
    expect(isPrivateAddress(a), a).toBe(true);
  for (const a of ['8.8.8.8', '172.32.0.1', '100.128.0.1', '169.254.169.254', '2001:db8::1', '::ffff:8.8.8.8', 'gpu-1.internal', 'localhost', ''])
    expect(isPrivateAddress(a), a).toBe(false);
});
