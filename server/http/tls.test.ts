import https from 'node:https';
import http from 'node:http';
import tls from 'node:tls';
import { randomBytes, X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv } from '../core/env';
import { startGatewayServer, type GatewayServer } from '../gateway/server';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { until } from '../testing/until';
import { makeServerCertificate, makeTestCa, pemDir } from './testing/certificates';
import { createListener, loadTls, readTlsPair, type TlsSettings } from './tls';
import { applySiteRules } from './site-rules';

/**
 * HTTPS on Enclave's listeners, with certificates made here: the standalone gateway listener (the web
 * listener is made by the same createListener) serves TLS 1.2+ only, says HSTS on every answer (its
 * own refusals included) and never without TLS, and picks up renewed files while refusing a bad pair.
 */
const ca = makeTestCa('Listener test CA');
const first = makeServerCertificate(ca, { commonName: 'first.enclave.test' });
const second = makeServerCertificate(ca, { commonName: 'second.enclave.test' });
const files = pemDir();
const certFile = files.write('cert.pem', first.certPem);
const keyFile = files.write('key.pem', first.keyPem);

let t: TestDatabase;
let settings: TlsSettings;
let secure: GatewayServer;
let plain: GatewayServer;

const tlsEnv = { ENCLAVE_TLS_CERT: certFile, ENCLAVE_TLS_KEY: keyFile, ENCLAVE_TLS_RELOAD_MS: '100' };

beforeAll(async () => {
  t = await createTestDatabase('tlslistener');
  const masterKey = randomBytes(32);
  const env = parseEnv({ ENCLAVE_DATA_DIR: files.dir, ...tlsEnv, ENCLAVE_MAX_CONNECTIONS_PER_CLIENT: '2' });
  settings = loadTls(env)!;
  // Loopback is normally exempt from the per-client cap: not here, so the cap's refusal is seen over TLS.
  secure = await startGatewayServer({ db: t.db, env, masterKey, port: 0, host: '127.0.0.1', hardening: env, tls: settings, exemptFromConnectionCap: () => false });
  plain = await startGatewayServer({ db: t.db, env: parseEnv({ ENCLAVE_DATA_DIR: files.dir }), masterKey, port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await secure?.close();
  await plain?.close();
  settings?.close();
  await t?.drop();
  files.remove();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  peer?: X509Certificate;
  protocol?: string | null;
}

function get(url: string, opts: { maxVersion?: tls.SecureVersion; agent?: https.Agent | false } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const secureUrl = url.startsWith('https:');
    const req = (secureUrl ? https : http).get(url, secureUrl ? { ca: ca.certPem, agent: opts.agent ?? false, maxVersion: opts.maxVersion } : {}, (res) => {
      const socket = res.socket as tls.TLSSocket;
      const peer = secureUrl ? new X509Certificate(socket.getPeerCertificate(true).raw) : undefined;
      const protocol = secureUrl ? socket.getProtocol() : undefined;
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, peer, protocol }));
    });
    req.on('error', reject);
  });
}

/** A TLS handshake at exactly `version`, with a client able to speak it (old versions need security level 0). */
function handshake(port: number, version: tls.SecureVersion): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'localhost', minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' }, () => {
      const protocol = socket.getProtocol()!;
      socket.end();
      resolve(protocol);
    });
    socket.on('error', reject);
  });
}

describe('TLS settings', () => {
  it('are off without files, and refuse at start, saying why, half a pair, an unreadable file, a key of another certificate, an expired or a not-yet-valid certificate', () => {
    const dir = pemDir();
    try {
      expect(loadTls({ ENCLAVE_HSTS_MAX_AGE: 1, ENCLAVE_TLS_RELOAD_MS: 100 })).toBeNull();
      expect(() => loadTls({ ENCLAVE_TLS_CERT: certFile, ENCLAVE_HSTS_MAX_AGE: 1, ENCLAVE_TLS_RELOAD_MS: 100 })).toThrow(/ENCLAVE_TLS_CERT and ENCLAVE_TLS_KEY go together/);
      expect(() => readTlsPair(`${dir.dir}/missing.pem`, keyFile)).toThrow(/ENCLAVE_TLS_CERT: cannot read .*missing\.pem \(ENOENT\)/);
      expect(() => readTlsPair(dir.write('junk.pem', 'not a certificate'), keyFile)).toThrow(/does not hold a PEM certificate/);
      expect(() => readTlsPair(certFile, dir.write('other-key.pem', second.keyPem))).toThrow(/ENCLAVE_TLS_KEY: the key in .* does not match the certificate/);
      const expired = makeServerCertificate(ca, { notBefore: new Date(Date.now() - 2 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
      expect(() => readTlsPair(dir.write('expired.pem', expired.certPem), dir.write('expired-key.pem', expired.keyPem))).toThrow(/ENCLAVE_TLS_CERT: the certificate in .* expired on \d{4}-/);
      const future = makeServerCertificate(ca, { notBefore: new Date(Date.now() + 86_400_000), notAfter: new Date(Date.now() + 2 * 86_400_000) });
      expect(() => readTlsPair(dir.write('future.pem', future.certPem), dir.write('future-key.pem', future.keyPem))).toThrow(/is not valid before/);
      // Through the settings as the start reads them: the same message stops the start.
      expect(() => parseEnv({ ENCLAVE_HSTS_MAX_AGE: '-1' })).toThrow(/ENCLAVE_HSTS_MAX_AGE/);
    } finally {
      dir.remove();
    }
  });
});

describe('an HTTPS listener', () => {
  it('answers over TLS 1.2 and 1.3 and refuses TLS 1.1 and 1.0 at the handshake', async () => {
    expect(await handshake(secure.port, 'TLSv1.2')).toBe('TLSv1.2');
    expect(await handshake(secure.port, 'TLSv1.3')).toBe('TLSv1.3');
    // The same client does speak TLS 1.1 to a server that allows it: the refusal below is the listener's.
    const lenient = tls.createServer({ cert: first.certPem, key: first.keyPem, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, (s) => s.end());
    await new Promise<void>((r) => lenient.listen(0, '127.0.0.1', r));
    try {
      expect(await handshake((lenient.address() as AddressInfo).port, 'TLSv1.1')).toBe('TLSv1.1');
    } finally {
      lenient.close();
    }
    await expect(handshake(secure.port, 'TLSv1.1')).rejects.toThrow(/protocol version|unsupported protocol/i);
    await expect(handshake(secure.port, 'TLSv1')).rejects.toThrow(/protocol version|unsupported protocol/i);
  });

  it('sends HSTS on every answer with TLS (its own refusals included) and never without', async () => {
    expect(secure.url).toMatch(/^https:\/\/127\.0\.0\.1:/);
    const health = await get(`${secure.url}/health`);
    expect(health.status).toBe(200);
    expect(health.headers['strict-transport-security']).toBe('max-age=31536000');
    const unknown = await get(`${secure.url}/nowhere`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers['strict-transport-security']).toBe('max-age=31536000');
    const unauthorised = await get(`${secure.url}/v1/models`);
    expect(unauthorised.status).toBe(401);
    expect(unauthorised.headers['strict-transport-security']).toBe('max-age=31536000');

    expect(plain.url).toMatch(/^http:\/\//);
    const plainHealth = await get(`${plain.url}/health`);
    expect(plainHealth.status).toBe(200);
    expect(plainHealth.headers['strict-transport-security']).toBeUndefined();
    expect((await get(`${plain.url}/nowhere`)).headers['strict-transport-security']).toBeUndefined();
  });

  it('keeps the listener protections: a malformed request and the per-client connection cap are answered in JSON over TLS, with HSTS', async () => {
    const raw = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port: secure.port, ca: ca.certPem, servername: 'localhost' }, () => socket.write(request));
        let text = '';
        socket.on('data', (d) => (text += d));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
    const malformed = await raw('NOT-HTTP\r\n\r\n');
    expect(malformed).toMatch(/^HTTP\/1\.1 400/);
    expect(malformed).toMatch(/strict-transport-security: max-age=31536000/);
    expect(malformed).toContain('"code":"malformed_request"');

    // Two kept-open connections fill the cap of 2; the third is told why, in HTTP, through TLS.
    const held = [tls.connect({ host: '127.0.0.1', port: secure.port, ca: ca.certPem, servername: 'localhost' }), tls.connect({ host: '127.0.0.1', port: secure.port, ca: ca.certPem, servername: 'localhost' })];
    try {
      await Promise.all(held.map((s) => new Promise((r) => s.once('secureConnect', r))));
      const third = await raw('GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n');
      expect(third).toMatch(/^HTTP\/1\.1 429/);
      expect(third).toContain('too_many_connections');
      expect(third).toMatch(/strict-transport-security: max-age=31536000/);
    } finally {
      for (const s of held) s.destroy();
    }
    await until('the held connections to be released', async () => (await get(`${secure.url}/health`).catch(() => null))?.status === 200, 5_000);
  });

  it('serves a renewed certificate once its files change, and keeps the one in use when the new pair is bad', async () => {
    const before = await get(`${secure.url}/health`);
    expect(before.peer!.subject).toContain('CN=first.enclave.test');

    // A bad pair (the new certificate with the old key): refused with a log line, the old pair serves on.
    files.write('cert.pem', second.certPem);
    expect(settings.reload()).toBe(false);
    expect((await get(`${secure.url}/health`)).peer!.subject).toContain('CN=first.enclave.test');

    // The key follows: the watcher takes the now-matching pair without a restart.
    files.write('key.pem', second.keyPem);
    const renewed = await until('the renewed certificate to be served', async () => {
      const answer = await get(`${secure.url}/health`);
      return answer.peer!.subject.includes('CN=second.enclave.test') && answer;
    }, 10_000, 100);
    expect(renewed.status).toBe(200);
    expect(settings.pair().certificate.subject).toContain('CN=second.enclave.test');

    // A file that becomes unreadable garbage changes nothing either.
    files.write('cert.pem', 'garbage');
    expect(settings.reload()).toBe(false);
    expect((await get(`${secure.url}/health`)).peer!.subject).toContain('CN=second.enclave.test');
  });

  it('on the web listener, follows ENCLAVE_HSTS_MAX_AGE over its own TLS (0: no header), the site rules adding none of their own', async () => {
    for (const [maxAge, expected] of [['600', 'max-age=600'], ['0', undefined]] as const) {
      const env = parseEnv({
        ENCLAVE_DATA_DIR: files.dir,
        ENCLAVE_TLS_CERT: files.write('web-cert.pem', first.certPem),
        ENCLAVE_TLS_KEY: files.write('web-key.pem', first.keyPem),
        ENCLAVE_HSTS_MAX_AGE: maxAge,
        ENCLAVE_PUBLIC_URL: 'https://localhost',
      });
      const own = loadTls(env)!;
      const web = createListener((req, res) => {
        if (applySiteRules(req, res, env, '/api/health', 'other')) res.writeHead(200).end('ok');
      }, own);
      await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
      try {
        const answer = await get(`https://localhost:${(web.address() as AddressInfo).port}/api/health`);
        expect(answer.status).toBe(200);
        expect(answer.headers['strict-transport-security']).toBe(expected);
      } finally {
        web.close();
        own.close();
      }
    }
  });
});
