import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import type http from 'node:http';
import { eq } from 'drizzle-orm';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiHandler } from '../../api/http';
import { parseEnv, type Env } from '../../core/env';
import { freePort } from '../../core/net/free-port';
import { certificateAuthority, gpuNodes, nodeCertificates } from '../../db/schema';
import { hardenServer } from '../../http/hardening';
import { makeServerCertificate, makeTestCa, pemDir } from '../../http/testing/certificates';
import { createListener, loadTls, type TlsSettings } from '../../http/tls';
import { startAgentListener, type AgentListener } from '../../roles/agent-listener';
import { loadCertificateAuthority, type CertificateAuthority } from '../../security/certificates/ca';
import { createCsr, generateRsaKey, signClientCertificate, csrPublicKey } from '../../security/certificates/x509';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { until } from '../../testing/until';
import { createJoinToken } from './join-tokens';
import { revokeNode, revokeNodeCertificates, type AgentTls } from './node-certificates';
import { startRemoteAgent } from './remote-agent';

/**
 * Mutual TLS between agents and the control plane, over real TLS sockets: the web listener (HTTPS, the
 * join) and the agent listener (HTTPS asking for client certificates), the real API handler, the real
 * remote agent. Certificates: a test CA for the servers' certificate (as an organisation would supply),
 * and the install's internal CA, created by the code under test, for the agents'.
 */
const MASTER_KEY = randomBytes(32);
const serverCa = makeTestCa('Server test CA');
const server = makeServerCertificate(serverCa);
const pems = pemDir();
const serverCaFile = pems.write('server-ca.pem', serverCa.certPem);

let t: TestDatabase;
let env: Env;
let tls: TlsSettings;
let ca: CertificateAuthority;
let agentTls: AgentTls;
let web: http.Server;
let webUrl: string;
let agents: AgentListener;
const dataDirs: string[] = [];
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  t = await createTestDatabase('agentmtls');
  env = parseEnv({
    ENCLAVE_DATA_DIR: pems.dir,
    ENCLAVE_SECURE_COOKIES: 'false',
    ENCLAVE_AUDIT_ANCHOR_DIR: path.join(pems.dir, 'anchors'),
    ENCLAVE_TLS_CERT: pems.write('cert.pem', server.certPem),
    ENCLAVE_TLS_KEY: pems.write('key.pem', server.keyPem),
  });
  tls = loadTls(env)!;
  ca = await loadCertificateAuthority(t.db, MASTER_KEY, env);
  agentTls = { ca, port: await freePort(), certLifetimeMs: 30 * 86_400_000 };
  const api = createApiHandler({ db: t.db, env, masterKey: MASTER_KEY, gatewayUrl: 'http://127.0.0.1:9', agentTls });
  web = createListener(
    (req, res) => {
      hardening.beforeRequest(req, res);
      void api(req, res).then((handled) => handled || res.writeHead(404).end());
    },
    tls,
    { requireHostHeader: false },
  );
  const hardening = hardenServer(web, env);
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  webUrl = `https://localhost:${(web.address() as { port: number }).port}`;
  agents = await startAgentListener({ env, tls, ca, api, port: agentTls.port, host: '127.0.0.1' });
});
afterAll(async () => {
  for (const stop of stops) await stop().catch(() => {});
  await agents?.close();
  await new Promise((r) => web?.close(r));
  web?.closeAllConnections();
  tls?.close();
  await t?.drop();
  pems.remove();
  for (const d of dataDirs) fs.rmSync(d, { recursive: true, force: true });
});

const noGpus = async () => ({ gpus: [], topology: null, processes: null });

async function joinAgent(name: string, opts: { certificateCheckMs?: number } = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-mtls-agent-'));
  dataDirs.push(dataDir);
  const agentEnv = parseEnv({ ENCLAVE_DATA_DIR: dataDir, ENCLAVE_ENGINE_HOST: '127.0.0.1', ENCLAVE_CONTROL_CA: serverCaFile });
  const { token } = await createJoinToken(t.db);
  const agent = await startRemoteAgent(agentEnv, { joinUrl: webUrl, token, nodeName: name, pollMs: 500, heartbeatMs: 300, trainerPollMs: 60_000, inventory: noGpus, ...opts });
  stops.push(() => agent.stop());
  const saved = JSON.parse(fs.readFileSync(path.join(dataDir, 'agent-credential.json'), 'utf8')) as { credential: string; tls: { key: string; certificate: string } };
  const [node] = await t.db.select().from(gpuNodes).where(eq(gpuNodes.name, name));
  return { agent, saved, node: node!, dataDir };
}

/** A call to the agents' API as an agent makes it (or fails to): a status and message, or the transport error. */
function call(
  port: number,
  pathname: string,
  opts: { credential?: string; cert?: string; key?: string; method?: string; body?: unknown } = {},
): Promise<{ status: number; message?: string }> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = https.request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        path: pathname,
        method: opts.method ?? (body ? 'POST' : 'GET'),
        ca: serverCa.certPem,
        cert: opts.cert,
        key: opts.key,
        agent: false,
        headers: { ...(opts.credential ? { authorization: `Bearer ${opts.credential}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let message: string | undefined;
          try {
            message = JSON.parse(text).error?.message;
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode!, message });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('the internal certificate authority', () => {
  it('is created once, kept in the database with its key sealed under the master key, and the same after a restart', async () => {
    const rows = await t.db.select().from(certificateAuthority);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.keyCiphertext.toString('latin1')).not.toContain('PRIVATE KEY');
    const certificate = new X509Certificate(ca.certPem);
    expect(certificate.ca).toBe(true);
    expect(certificate.subject).toContain('CN=Enclave internal CA');
    expect(ca.source).toBe('internal');

    // A restart (or a second web process) loads the same CA; two at once still make one.
    const [again, concurrent] = await Promise.all([loadCertificateAuthority(t.db, MASTER_KEY, {}), loadCertificateAuthority(t.db, MASTER_KEY, {})]);
    expect(again.fingerprint).toBe(ca.fingerprint);
    expect(concurrent.fingerprint).toBe(ca.fingerprint);
    expect(await t.db.select().from(certificateAuthority)).toHaveLength(1);
    // Its key opens only under the master key.
    await expect(loadCertificateAuthority(t.db, randomBytes(32), {})).rejects.toThrow();
  });

  it("uses an organisation's CA when given, and refuses one that is not a CA or whose key does not match", async () => {
    const org = makeTestCa('Organisation CA');
    const orgCa = await loadCertificateAuthority(t.db, MASTER_KEY, { ENCLAVE_CA_CERT: pems.write('org-ca.pem', org.certPem), ENCLAVE_CA_KEY: pems.write('org-ca-key.pem', org.keyPem) });
    expect(orgCa.source).toBe('organisation');
    const { privateKeyPem } = generateRsaKey();
    const issued = orgCa.issue({ csrPem: createCsr(privateKeyPem, 'x'), commonName: 'node-id', organizationalUnit: 'node', lifetimeMs: 60_000 });
    expect(new X509Certificate(issued.certPem).verify(new X509Certificate(org.certPem).publicKey)).toBe(true);

    const other = makeTestCa('Other CA');
    await expect(loadCertificateAuthority(t.db, MASTER_KEY, { ENCLAVE_CA_CERT: pems.write('mismatch.pem', org.certPem), ENCLAVE_CA_KEY: pems.write('mismatch-key.pem', other.keyPem) })).rejects.toThrow(
      /ENCLAVE_CA_KEY: the key in .* does not match the CA certificate/,
    );
    await expect(loadCertificateAuthority(t.db, MASTER_KEY, { ENCLAVE_CA_CERT: pems.write('leaf.pem', server.certPem), ENCLAVE_CA_KEY: pems.write('leaf-key.pem', server.keyPem) })).rejects.toThrow(
      /is not a CA certificate/,
    );
    await expect(loadCertificateAuthority(t.db, MASTER_KEY, { ENCLAVE_CA_CERT: pems.write('alone.pem', org.certPem) })).rejects.toThrow(/go together/);
  });

  it('refuses a certificate request that is not signed by its own key or whose key is too short', () => {
    const { privateKeyPem } = generateRsaKey();
    const csr = createCsr(privateKeyPem, 'agent');
    // A request whose key is not the one that signed it (another's public key put in after signing).
    const parsed = forge.pki.certificationRequestFromPem(csr);
    const otherKey = forge.pki.privateKeyFromPem(generateRsaKey().privateKeyPem) as forge.pki.rsa.PrivateKey;
    parsed.publicKey = forge.pki.setRsaPublicKey(otherKey.n, otherKey.e);
    (parsed as unknown as { certificationRequestInfo: unknown }).certificationRequestInfo = null;
    const tampered = forge.pki.certificationRequestToPem(parsed);
    expect(() => csrPublicKey(tampered)).toThrow(/not signed by its own key/);
    expect(() => csrPublicKey('junk')).toThrow(/not a PEM PKCS#10 request/);
    const short = generateRsaKey(1024);
    expect(() => csrPublicKey(createCsr(short.privateKeyPem, 'agent'))).toThrow(/too short \(1024 bits/);
  });
});

describe('agents over mutual TLS', () => {
  it('a join without a certificate request, or with a bad one, is refused saying why, and does not spend the token', async () => {
    const webPort = Number(new URL(webUrl).port);
    const { token } = await createJoinToken(t.db);
    const node = { name: 'mtls-bad', gpus: [], topology: null };
    const none = await call(webPort, '/api/agent/join', { body: { token, node } });
    expect(none.status).toBe(400);
    expect(none.message).toMatch(/requires mutual TLS, so the join must carry a certificate request/);
    const junk = await call(webPort, '/api/agent/join', { body: { token, node, csr: 'junk' } });
    expect(junk.status).toBe(400);
    expect(junk.message).toMatch(/^csr: The certificate request is not a PEM PKCS#10 request/);
    const good = await call(webPort, '/api/agent/join', { body: { token, node, csr: createCsr(generateRsaKey().privateKeyPem, 'mtls-bad') } });
    expect(good.status).toBe(200);
  });

  it('a joining agent gets a client certificate for its node id from the CA, then works only through the mTLS listener', async () => {
    const { agent, saved, node } = await joinAgent('mtls-a');
    const cert = new X509Certificate(saved.tls.certificate);
    expect(cert.subject).toContain(`CN=${node.id}`);
    expect(cert.subject).toContain('OU=mtls-a');
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.2'); // clientAuth only
    expect(cert.keyUsage).not.toContain('1.3.6.1.5.5.7.3.1');
    const [row] = await t.db.select().from(nodeCertificates).where(eq(nodeCertificates.nodeId, node.id));
    expect(row).toMatchObject({ serial: cert.serialNumber.toUpperCase(), revokedAt: null, caFingerprint: ca.fingerprint });
    expect(agent.certificate()).toBe(saved.tls.certificate);

    // Its heartbeats arrive over the agent listener.
    const before = node.lastHeartbeatAt!.getTime();
    await until('a heartbeat over mTLS', async () => {
      const [n] = await t.db.select().from(gpuNodes).where(eq(gpuNodes.id, node.id));
      return n!.lastHeartbeatAt!.getTime() > before;
    }, 10_000);

    const ok = await call(agentTls.port, '/api/agent/assignments', { credential: saved.credential, cert: saved.tls.certificate, key: saved.tls.key });
    expect(ok.status).toBe(200);
    // The credential alone, on the web listener (which asks no certificate): refused, saying where to go.
    const webPort = Number(new URL(webUrl).port);
    const bearerOnly = await call(webPort, '/api/agent/assignments', { credential: saved.credential });
    expect(bearerOnly.status).toBe(401);
    expect(bearerOnly.message).toMatch(/requires mutual TLS .* port \d+/);
    // The join is not served on the agent listener, and nothing else either.
    expect((await call(agentTls.port, '/api/health', { cert: saved.tls.certificate, key: saved.tls.key })).status).toBe(404);
  });

  it('the agent listener refuses at the handshake a call without a client certificate, or with one from another CA', async () => {
    const { saved } = await joinAgent('mtls-b');
    await expect(call(agentTls.port, '/api/agent/assignments', { credential: saved.credential })).rejects.toThrow(/certificate required|alert|socket hang up|ECONNRESET/i);

    // The same node's name and a key of its own, but signed by a CA the control plane never used.
    const rogue = makeTestCa('Rogue CA');
    const { privateKeyPem } = generateRsaKey();
    const [node] = await t.db.select().from(gpuNodes).where(eq(gpuNodes.name, 'mtls-b'));
    const forged = signClientCertificate({ caCertPem: rogue.certPem, caKeyPem: rogue.keyPem, publicKey: csrPublicKey(createCsr(privateKeyPem, 'x')), commonName: node!.id, organizationalUnit: 'mtls-b', lifetimeMs: 3_600_000 });
    await expect(call(agentTls.port, '/api/agent/assignments', { credential: saved.credential, cert: forged.certPem, key: privateKeyPem })).rejects.toThrow(/unknown ca|alert|socket hang up|ECONNRESET/i);
    // Its own certificate still works: the refusals above were about the certificates.
    expect((await call(agentTls.port, '/api/agent/assignments', { credential: saved.credential, cert: saved.tls.certificate, key: saved.tls.key })).status).toBe(200);
  });

  it("refuses a revoked certificate, a node's certificate with another node's credential, and a revoked node", async () => {
    const a = await joinAgent('mtls-c');
    const b = await joinAgent('mtls-d');
    // Node d's certificate with node c's credential.
    const swapped = await call(agentTls.port, '/api/agent/assignments', { credential: a.saved.credential, cert: b.saved.tls.certificate, key: b.saved.tls.key });
    expect(swapped.status).toBe(401);
    expect(swapped.message).toMatch(/belongs to another node/);

    await a.agent.stop();
    expect(await revokeNodeCertificates(t.db, a.node.id)).toBe(1);
    const revoked = await call(agentTls.port, '/api/agent/assignments', { credential: a.saved.credential, cert: a.saved.tls.certificate, key: a.saved.tls.key });
    expect(revoked.status).toBe(401);
    expect(revoked.message).toMatch(/was revoked on \d{4}-.*join again with a new token/);
    // A restarted agent with that identity fails its start, saying why.
    const agentEnv = parseEnv({ ENCLAVE_DATA_DIR: a.dataDir, ENCLAVE_ENGINE_HOST: '127.0.0.1', ENCLAVE_CONTROL_CA: serverCaFile });
    await expect(startRemoteAgent(agentEnv, { joinUrl: webUrl, nodeName: 'mtls-c', inventory: noGpus })).rejects.toThrow(/401 .*revoked/);

    // Revoking a node: certificates and credential both, the node set unhealthy.
    await b.agent.stop();
    expect(await revokeNode(t.db, 'mtls-d')).toEqual({ certificates: 1, credentials: 1 });
    expect((await call(agentTls.port, '/api/agent/assignments', { credential: b.saved.credential, cert: b.saved.tls.certificate, key: b.saved.tls.key })).status).toBe(401);
    expect((await t.db.select().from(gpuNodes).where(eq(gpuNodes.id, b.node.id)))[0]!.status).toBe('unhealthy');
    expect(await revokeNode(t.db, 'no-such-node')).toBeNull();
  });

  it('an agent renews its certificate with a third of its lifetime left; the old one stays valid until it expires', async () => {
    agentTls.certLifetimeMs = 9_000;
    try {
      const { agent, saved, node } = await joinAgent('mtls-e', { certificateCheckMs: 200 });
      const first = new X509Certificate(saved.tls.certificate);
      const renewed = await until('the certificate to be renewed', async () => agent.certificate() !== saved.tls.certificate && agent.certificate(), 15_000, 100);
      const second = new X509Certificate(renewed!);
      expect(second.serialNumber).not.toBe(first.serialNumber);
      expect(second.subject).toContain(`CN=${node.id}`);
      const rows = await t.db.select().from(nodeCertificates).where(eq(nodeCertificates.nodeId, node.id));
      expect(rows.map((r) => r.serial)).toEqual(expect.arrayContaining([first.serialNumber, second.serialNumber].map((s) => s.toUpperCase())));
      expect(rows.every((r) => r.revokedAt === null)).toBe(true);
      // The saved identity follows (a restart uses the new key and certificate).
      const file = JSON.parse(fs.readFileSync(path.join(dataDirs.at(-1)!, 'agent-credential.json'), 'utf8')) as { tls: { certificate: string; key: string } };
      expect(file.tls.certificate).toBe(renewed);
      // The old certificate still works while valid (renewed with a third of its life left: seconds here).
      expect(new Date(first.validTo).getTime()).toBeGreaterThan(Date.now());
      expect((await call(agentTls.port, '/api/agent/assignments', { credential: saved.credential, cert: saved.tls.certificate, key: saved.tls.key })).status).toBe(200);
      // The new one works through the agent's own calls: heartbeats keep arriving.
      const at = Date.now();
      await until('a heartbeat with the renewed certificate', async () => {
        const [n] = await t.db.select().from(gpuNodes).where(eq(gpuNodes.id, node.id));
        return n!.lastHeartbeatAt!.getTime() > at;
      }, 10_000);
      await agent.stop();
    } finally {
      agentTls.certLifetimeMs = 30 * 86_400_000;
    }
  });
});
