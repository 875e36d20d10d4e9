import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import forge from 'node-forge';
import { generateRsaKey, newSerial, selfSignedCa } from '../../security/certificates/x509';

/**
 * Certificates made in the tests, with real keys: a CA of the test's own and server certificates it
 * signs (for 127.0.0.1 and localhost), written to PEM files as an operator would supply them.
 */
export interface TestCa {
  certPem: string;
  keyPem: string;
}

export function makeTestCa(name = 'Test CA'): TestCa {
  const { privateKeyPem } = generateRsaKey();
  return { certPem: selfSignedCa(privateKeyPem, name, 1), keyPem: privateKeyPem };
}

export function makeServerCertificate(
  ca: TestCa,
  opts: { commonName?: string; notBefore?: Date; notAfter?: Date; hosts?: string[] } = {},
): { certPem: string; keyPem: string } {
  const { privateKeyPem } = generateRsaKey();
  const key = forge.pki.privateKeyFromPem(privateKeyPem) as forge.pki.rsa.PrivateKey;
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = newSerial();
  cert.validity.notBefore = opts.notBefore ?? new Date(Date.now() - 60_000);
  cert.validity.notAfter = opts.notAfter ?? new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: opts.commonName ?? 'localhost' }]);
  cert.setIssuer(caCert.subject.attributes);
  const hosts = opts.hosts ?? ['localhost', '127.0.0.1'];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: hosts.map((h) => (/^[\d.]+$/.test(h) ? { type: 7, ip: h } : { type: 2, value: h })) },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: privateKeyPem };
}

/** A folder for PEM files, removed by `remove`. */
export function pemDir(): { dir: string; write(name: string, pem: string): string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-tls-'));
  return {
    dir,
    write(name, pem) {
      const file = path.join(dir, name);
      // Replaced by rename, as certbot and Kubernetes do: the watcher must see it.
      fs.writeFileSync(`${file}.tmp`, pem, { mode: 0o600 });
      fs.renameSync(`${file}.tmp`, file);
      return file;
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
