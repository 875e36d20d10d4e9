import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import type { Resolve } from '../policy';

/**
 * A DNS TEST DOUBLE: a tiny authoritative server on loopback (UDP, A and AAAA only) whose answers a test
 * sets per name and may change between queries, as a rebinding attacker's server does. It speaks the
 * real wire format, so the policy is exercised through a real resolver (c-ares), not a stub of our code.
 */
export interface DnsDouble {
  /** What each name resolves to now (IPv4 and IPv6 addresses mixed). */
  answers: Map<string, string[]>;
  queries: number;
  /** A policy `resolve` that asks this server, as dns.lookup asks the system's. */
  resolve: Resolve;
  close(): Promise<void>;
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const words = [...h, ...Array<string>(tail === undefined ? 0 : 8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(parseInt(w, 16), i * 2));
  return out;
}

function answer(query: Buffer, answers: Map<string, string[]>): Buffer {
  let at = 12;
  const labels: string[] = [];
  while (query[at]! > 0) {
    labels.push(query.subarray(at + 1, at + 1 + query[at]!).toString('ascii'));
    at += query[at]! + 1;
  }
  const type = query.readUInt16BE(at + 1);
  const question = query.subarray(12, at + 5);
  const wanted = (answers.get(labels.join('.').toLowerCase()) ?? []).filter((a) => (type === 1 ? net.isIPv4(a) : type === 28 ? net.isIPv6(a) : false));
  const records = wanted.map((a) => {
    const data = type === 1 ? Buffer.from(a.split('.').map(Number)) : ipv6Bytes(a);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(type, 2);
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(0, 6); // TTL 0: nothing cached, every lookup asks again
    rr.writeUInt16BE(data.length, 10);
    return Buffer.concat([rr, data]);
  });
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(0x8180, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  return Buffer.concat([header, question, ...records]);
}

export async function startDnsDouble(): Promise<DnsDouble> {
  const socket = dgram.createSocket('udp4');
  const double: DnsDouble = {
    answers: new Map(),
    queries: 0,
    resolve: async () => [],
    close: () => new Promise((r) => socket.close(() => r())),
  };
  socket.on('message', (msg, from) => {
    double.queries++;
    socket.send(answer(msg, double.answers), from.port, from.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const resolver = new dns.promises.Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([`127.0.0.1:${socket.address().port}`]);
  double.resolve = async (host) => {
    const [v4, v6] = await Promise.all([resolver.resolve4(host).catch(() => []), resolver.resolve6(host).catch(() => [])]);
    const all = [...v4.map((address) => ({ address, family: 4 })), ...v6.map((address) => ({ address, family: 6 }))];
    if (!all.length) throw Object.assign(new Error(`${host} not found`), { code: 'ENOTFOUND' });
    return all;
  };
  return double;
}
