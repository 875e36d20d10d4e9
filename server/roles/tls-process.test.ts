import https from 'node:https';
import path from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { freePort } from '../core/net/free-port';
import { makeServerCertificate, makeTestCa, pemDir } from '../http/testing/certificates';
import { createApiKey } from '../security/api-keys';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { makeDeployment, makeUser } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';

/**
 * `enclave gateway` started as an operator starts it, with ENCLAVE_TLS_CERT/KEY: HTTPS from every worker
 * on the shared port, a renewed certificate picked up without a restart, and a start with a key that
 * does not match its certificate stopped with a message that says so.
 */
const bin = path.resolve(__dirname, '../../bin/enclave.mjs');
const ca = makeTestCa('Process test CA');
const first = makeServerCertificate(ca, { commonName: 'first.process.test' });
const second = makeServerCertificate(ca, { commonName: 'second.process.test' });
const pems = pemDir();
const certFile = pems.write('cert.pem', first.certPem);
const keyFile = pems.write('key.pem', first.keyPem);
let t: TestDatabase;
let engine: OpenAIDouble;
let model: string;
let key: string;
let port: number;
let proc: ResultPromise | undefined;
let output = '';

const gatewayEnv = (over: Record<string, string> = {}) => ({
  DATABASE_URL: t.url,
  ENCLAVE_MASTER_KEY: randomBytes(32).toString('hex'),
  ENCLAVE_DATA_DIR: pems.dir,
  REDIS_PREFIX: testRedisPrefix('tlsproc'),
  GATEWAY_PORT: String(port),
  HOST: '127.0.0.1',
  GATEWAY_WORKERS: '2',
  GATEWAY_RATE_LIMIT_PER_MINUTE: '0',
  ENCLAVE_TLS_CERT: certFile,
  ENCLAVE_TLS_KEY: keyFile,
  ENCLAVE_TLS_RELOAD_MS: '200',
  LOG_LEVEL: 'warn',
  ...over,
});

/** One request on a fresh connection (so the workers share them), trusting only the test CA. */
function chat(): Promise<{ status: number; hsts?: string; peer: X509Certificate }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        path: '/v1/chat/completions',
        method: 'POST',
        ca: ca.certPem,
        agent: false,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        timeout: 15_000,
      },
      (res) => {
        const peer = new X509Certificate((res.socket as tls.TLSSocket).getPeerCertificate(true).raw);
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, hsts: res.headers['strict-transport-security'] as string | undefined, peer }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }));
  });
}

beforeAll(async () => {
  t = await createTestDatabase('tlsprocess');
  engine = await startOpenAIDouble({ tokens: 3 });
  model = (await makeDeployment(t.db, {}, [engine.url])).deployment.name;
  const user = await makeUser(t.db, { role: 'admin' });
  key = (await createApiKey(t.db, { userId: user.id, name: 'tls', maxConcurrent: 0 })).key;
  port = await freePort();
}, 60_000);

afterAll(async () => {
  if (proc && proc.exitCode === null) {
    proc.kill('SIGKILL');
    await proc;
  }
  await engine?.close();
  await t?.drop();
  pems.remove();
});

test('every gateway worker serves HTTPS with HSTS, and all of them take a renewed certificate without a restart', async () => {
  proc = execa(process.execPath, [bin, 'gateway'], { env: gatewayEnv(), reject: false, all: true });
  proc.all!.on('data', (d) => (output += d));
  await until('the gateway to listen', async () => {
    if (proc!.exitCode !== null) throw new Error(`gateway exited:\n${output}`);
    return /Enclave is ready on https:\/\/localhost:\d+/.test(output);
  }, 90_000, 200);

  for (let i = 0; i < 6; i++) {
    const answer = await chat();
    expect(answer.status).toBe(200);
    expect(answer.hsts).toBe('max-age=31536000');
    expect(answer.peer.subject).toContain('CN=first.process.test');
  }
  pems.write('cert.pem', second.certPem);
  pems.write('key.pem', second.keyPem);
  // Six fresh connections in a row all see the new certificate: every worker reloaded.
  await until('every worker to serve the renewed certificate', async () => {
    for (let i = 0; i < 6; i++) if (!(await chat()).peer.subject.includes('CN=second.process.test')) return false;
    return true;
  }, 30_000, 200);
  proc.kill('SIGTERM');
  expect((await proc).exitCode).toBe(0);
}, 150_000);

test('a start whose key does not match its certificate stops, saying so', async () => {
  const other = makeServerCertificate(ca);
  const wrongKey = pems.write('wrong-key.pem', other.keyPem);
  for (const workers of ['1', '2']) {
    const run = await execa(process.execPath, [bin, 'gateway'], { env: gatewayEnv({ ENCLAVE_TLS_KEY: wrongKey, GATEWAY_WORKERS: workers }), reject: false, all: true, timeout: 60_000 });
    expect(run.exitCode, `GATEWAY_WORKERS=${workers}:\n${run.all}`).not.toBe(0);
    expect(run.all).toMatch(/ENCLAVE_TLS_KEY: the key in .*wrong-key\.pem does not match the certificate in .*cert\.pem/);
  }
}, 150_000);
