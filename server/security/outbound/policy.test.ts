import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseEnv } from '../../core/env';
import { classifyAddress } from '../../core/net/addresses';
import { parseAllowList } from '../../core/net/allow-list';
import { createOutboundPolicy, outboundConfig, OutboundRefused, type OutboundPolicy } from './policy';
import { OutboundFailed, outboundRequest } from './request';
import { startDnsDouble, type DnsDouble } from './testing/dns-double';
import { outboundUrlIssue } from './url';

const policy = (allow = '', more: Partial<Parameters<typeof createOutboundPolicy>[0]> = {}, resolve?: DnsDouble['resolve']) =>
  createOutboundPolicy({ allow, ownEndpoints: [], ...more }, { resolve });
const refusal = (p: OutboundPolicy, url: string) => p.checkUrl(new URL(url));

let dnsDouble: DnsDouble;
let server: http.Server;
let port: number;
let hits = 0;
beforeAll(async () => {
  dnsDouble = await startDnsDouble();
  server = http.createServer((req, res) => {
    hits++;
    if (req.url === '/redirect') return void res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
  await dnsDouble?.close();
});

describe('addresses', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:2', 'loopback'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['169.254.0.1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['fd00:ec2:0:0:0:0:0:254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['224.0.0.251', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['10.0.0.1', 'ordinary'],
    ['172.16.5.4', 'ordinary'],
    ['192.168.1.1', 'ordinary'],
    ['100.64.0.1', 'ordinary'],
    ['fd12:3456::1', 'ordinary'],
    ['8.8.8.8', 'ordinary'],
    ['2001:4860:4860::8888', 'ordinary'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)?.kind).toBe(kind);
  });

  it('a host name is not an address', () => {
    expect(classifyAddress('example.com')).toBeNull();
  });
});

describe('URLs, before any DNS lookup', () => {
  const strict = policy();
  it.each([
    ['file:///etc/passwd', 'only http:// and https:// URLs may be called, not file:'],
    ['gopher://10.0.0.1:70/_x', 'only http:// and https:// URLs may be called, not gopher:'],
    ['data:text/plain,x', 'only http:// and https:// URLs may be called, not data:'],
    // The WHATWG parser reads every spelling of an IPv4 address; all of these are 127.0.0.1.
    ['http://2130706433/', '127.0.0.1 is a loopback address (not in ENCLAVE_OUTBOUND_ALLOW)'],
    ['http://0x7f.1/', '127.0.0.1 is a loopback address (not in ENCLAVE_OUTBOUND_ALLOW)'],
    ['http://017700000001/', '127.0.0.1 is a loopback address (not in ENCLAVE_OUTBOUND_ALLOW)'],
    ['http://127.1/', '127.0.0.1 is a loopback address (not in ENCLAVE_OUTBOUND_ALLOW)'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1 is a loopback address (not in ENCLAVE_OUTBOUND_ALLOW)'],
    ['http://localhost:3000/', 'localhost is a loopback host name (not in ENCLAVE_OUTBOUND_ALLOW)'],
    ['http://api.localhost./', 'api.localhost is a loopback host name (not in ENCLAVE_OUTBOUND_ALLOW)'],
    ['http://METADATA.google.internal./', 'metadata.google.internal is a cloud metadata host name'],
    ['http://169.254.169.254/', '169.254.169.254 is a cloud metadata address (not in ENCLAVE_OUTBOUND_ALLOW)'],
  ])('%s: %s', (url, why) => {
    expect(refusal(strict, url)).toBe(why);
  });

  it('private networks and the internet need no entry', () => {
    for (const url of ['http://10.0.0.5:8000/v1', 'https://192.168.1.20/', 'http://[fd12::1]:8000/', 'https://api.example.com/v1']) expect(refusal(strict, url)).toBeNull();
  });

  it("this host's own addresses are refused on every port, like loopback", () => {
    const own = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i && !i.internal && i.family === 'IPv4');
    if (!own) return; // a host with no network but loopback: nothing of its own beyond loopback to check
    expect(refusal(strict, `http://${own.address}:22/`)).toBe(`${own.address} is an address of this host (not in ENCLAVE_OUTBOUND_ALLOW)`);
    expect(refusal(policy(own.address), `http://${own.address}:22/`)).toBeNull();
  });

  it('the install itself, by the names its gateway and public URLs use', () => {
    const config = outboundConfig({ ENCLAVE_OUTBOUND_ALLOW: '', ENCLAVE_GATEWAY_URL: 'http://gateway.enclave.svc:3001', ENCLAVE_PUBLIC_URL: 'https://llm.bank.example, http://10.2.3.4:3000' });
    const p = policy('', config);
    expect(refusal(p, 'http://gateway.enclave.svc:3001/v1')).toBe('gateway.enclave.svc:3001 is this install itself (not in ENCLAVE_OUTBOUND_ALLOW)');
    expect(refusal(p, 'https://LLM.bank.example/v1')).toBe('llm.bank.example:443 is this install itself (not in ENCLAVE_OUTBOUND_ALLOW)');
    expect(refusal(p, 'http://10.2.3.4:3000/v1')).toBe('10.2.3.4 is this install itself (not in ENCLAVE_OUTBOUND_ALLOW)');
    expect(refusal(p, 'http://gateway.enclave.svc:8000/v1')).toBeNull();
    expect(refusal(p, 'http://10.2.3.4:8000/v1')).toBeNull();
  });

  it('the allow-list: addresses, ranges, names, ports', () => {
    const p = policy('127.0.0.1:8000, 169.254.10.0/24, vllm.lan, [::1]:9000, localhost:3000, 169.254.169.254:80');
    expect(refusal(p, 'http://127.0.0.1:8000/')).toBeNull();
    expect(refusal(p, 'http://127.0.0.1:8001/')).toMatch(/loopback/);
    expect(refusal(p, 'http://[::ffff:127.0.0.1]:8000/')).toBeNull(); // the same address, however it is written
    expect(refusal(p, 'http://169.254.10.77/')).toBeNull();
    expect(refusal(p, 'http://169.254.11.77/')).toMatch(/link-local/);
    expect(refusal(p, 'http://[::1]:9000/')).toBeNull();
    expect(refusal(p, 'http://localhost:3000/')).toBeNull();
    expect(refusal(p, 'http://localhost:3001/')).toMatch(/loopback host name/);
    expect(refusal(p, 'http://169.254.169.254/')).toBeNull();
    // An address entry opens loopback names too: "127.0.0.1" means whatever calls it localhost.
    expect(refusal(policy('127.0.0.1'), 'http://localhost:3000/')).toBeNull();
  });

  it('a bad allow-list entry stops the start, naming the variable and the entry', () => {
    expect(parseAllowList(' 10.0.0.0/8 , vllm.lan:8000,[fd00::/8]:443, ::ffff:10.0.0.0/104,')).toHaveLength(4);
    for (const bad of ['10.0.0.0/33', 'vllm.lan:99999', 'http://x', '::1/129', 'a b'])
      expect(() => parseEnv({ ENCLAVE_OUTBOUND_ALLOW: bad })).toThrow(ConfigError);
    expect(() => parseEnv({ ENCLAVE_OUTBOUND_ALLOW: '127.0.0.1,10.0.0.0/33' })).toThrow(/ENCLAVE_OUTBOUND_ALLOW: '10\.0\.0\.0\/33': the prefix length must be 0 to 32/);
  });

  it('saved URLs: the rule is named, never the URL', () => {
    const p = policy();
    expect(outboundUrlIssue('https://u:secret@api.example.com/v1', { credentials: false, query: false }, p)).toBe('must not carry a user name or password (the API key has its own field)');
    expect(outboundUrlIssue('https://hooks.example.com/x?token=secret', { credentials: true, query: true }, p)).toBeNull();
    expect(outboundUrlIssue('http://127.0.0.1:9/hook?token=secret', { credentials: true, query: true }, p)).toBe('refused by the outbound policy: 127.0.0.1 is a loopback address (not in ENCLAVE_OUTBOUND_ALLOW)');
    expect(outboundUrlIssue('not a url', { credentials: true, query: true }, p)).toBe('must be an http:// or https:// URL');
  });
});

describe('at connect time, after DNS', () => {
  const fails = (p: Promise<unknown>) => p.then(() => null, (e: Error) => e);

  it('a name that resolves to loopback is refused before any connection; allowed when the address is allow-listed', async () => {
    dnsDouble.answers.set('upstream.rebind.test', ['127.0.0.1']);
    const before = hits;
    // Saved, it looked fine: no DNS is asked when a URL is saved.
    expect(refusal(policy('', {}, dnsDouble.resolve), `http://upstream.rebind.test:${port}/`)).toBeNull();
    const err = await fails(outboundRequest(`http://upstream.rebind.test:${port}/`, { timeoutMs: 5_000 }, policy('', {}, dnsDouble.resolve)));
    expect(err).toBeInstanceOf(OutboundRefused);
    expect(err!.message).toBe('refused by the outbound policy: upstream.rebind.test resolves to 127.0.0.1, a loopback address (not in ENCLAVE_OUTBOUND_ALLOW)');
    expect(hits).toBe(before);

    const allowed = await outboundRequest(`http://upstream.rebind.test:${port}/`, { timeoutMs: 5_000 }, policy(`127.0.0.1:${port}`, {}, dnsDouble.resolve));
    expect([allowed.status, allowed.body.toString()]).toEqual([200, 'hello']);
    expect(hits).toBe(before + 1);
  });

  it('a rebinding name: each connection is checked against what it resolves to then', async () => {
    dnsDouble.answers.set('flip.rebind.test', ['127.0.0.1']);
    expect((await outboundRequest(`http://flip.rebind.test:${port}/`, { timeoutMs: 5_000 }, policy(`127.0.0.1:${port}`, {}, dnsDouble.resolve))).status).toBe(200);
    for (const [answers, why] of [
      [['169.254.169.254'], 'flip.rebind.test resolves to 169.254.169.254, a cloud metadata address'],
      [['::1'], 'flip.rebind.test resolves to ::1, a loopback address'],
      // One bad address among good ones refuses the name: the connection could pick either.
      [['10.9.8.7', '127.0.0.2'], 'flip.rebind.test resolves to 127.0.0.2, a loopback address'],
    ] as const) {
      dnsDouble.answers.set('flip.rebind.test', [...answers]);
      // A fresh policy (and so fresh agents): the first request's kept-alive socket is not reused.
      const err = await fails(outboundRequest(`http://flip.rebind.test:${port}/`, { timeoutMs: 5_000 }, policy(`127.0.0.1:${port}`, {}, dnsDouble.resolve)));
      expect(err?.message).toBe(`refused by the outbound policy: ${why} (not in ENCLAVE_OUTBOUND_ALLOW)`);
    }
    // A name entry never opens a metadata address, whatever the name.
    dnsDouble.answers.set('flip.rebind.test', ['169.254.169.254']);
    const named = await fails(outboundRequest('http://flip.rebind.test/', { timeoutMs: 5_000 }, policy('flip.rebind.test', {}, dnsDouble.resolve)));
    expect(named?.message).toMatch(/cloud metadata address/);
  });

  it('a literal address is checked at connect time too, and redirects are not followed', async () => {
    const err = await fails(outboundRequest(`http://127.0.0.1:${port}/`, { timeoutMs: 5_000 }, policy()));
    expect(err).toBeInstanceOf(OutboundRefused);
    const before = hits;
    const res = await outboundRequest(`http://127.0.0.1:${port}/redirect`, { timeoutMs: 5_000 }, policy('127.0.0.1'));
    expect([res.status, res.headers.location]).toEqual([302, 'http://169.254.169.254/latest/meta-data/']);
    expect(hits).toBe(before + 1);
  });

  it('a name that does not resolve is an ordinary failure, not a policy refusal', async () => {
    const err = await fails(outboundRequest('http://nowhere.rebind.test/', { timeoutMs: 5_000 }, policy('', {}, dnsDouble.resolve)));
    expect(err).toBeInstanceOf(OutboundFailed);
  });
});
