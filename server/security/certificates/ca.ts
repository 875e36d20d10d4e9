import fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { certificateAuthority } from '../../db/schema';
import { ConfigError } from '../../core/env';
import { log } from '../../core/log';
import { decryptText, encryptText } from '../encryption';
import { certificateFingerprint, csrPublicKey, generateRsaKey, readPrivateKey, selfSignedCa, signClientCertificate, type IssuedCertificate } from './x509';

/**
 * The certificate authority that issues the agents' client certificates (mutual TLS on the agents'
 * API). Either Enclave's own, created by the first process to start and kept in the database (every web
 * process of a replicated install signs with the same CA; the key sealed under an install data key, so
 * it never rests in clear and a master key rotation re-wraps it), or an organisation's, named by
 * ENCLAVE_CA_CERT and ENCLAVE_CA_KEY (read from those files at start, never copied into the database).
 */
export interface CertificateAuthority {
  source: 'internal' | 'organisation';
  certPem: string;
  fingerprint: string;
  notAfter: Date;
  /** Checks a certificate request (throws CsrError) and signs a client certificate for its key. */
  issue(opts: { csrPem: string; commonName: string; organizationalUnit: string; lifetimeMs: number }): IssuedCertificate;
}

const INTERNAL_CA_NAME = 'Enclave internal CA';
const INTERNAL_CA_YEARS = 10;

export interface CaEnv {
  ENCLAVE_CA_CERT?: string;
  ENCLAVE_CA_KEY?: string;
}

function authority(source: CertificateAuthority['source'], certPem: string, keyPem: string): CertificateAuthority {
  const certificate = new X509Certificate(certPem);
  return {
    source,
    certPem,
    fingerprint: certificate.fingerprint256,
    notAfter: new Date(certificate.validTo),
    issue({ csrPem, commonName, organizationalUnit, lifetimeMs }) {
      const publicKey = csrPublicKey(csrPem);
      // Never beyond the CA's own end: such a certificate would stop verifying before its notAfter.
      const room = new Date(certificate.validTo).getTime() - Date.now();
      return signClientCertificate({ caCertPem: certPem, caKeyPem: keyPem, publicKey, commonName, organizationalUnit, lifetimeMs: Math.max(1_000, Math.min(lifetimeMs, room)) });
    },
  };
}

function readFile(file: string, variable: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${variable}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** An organisation's CA from its files, checked: a CA certificate in its validity and the RSA key that belongs to it. */
export function organisationCa(env: CaEnv): CertificateAuthority {
  if (!env.ENCLAVE_CA_CERT || !env.ENCLAVE_CA_KEY) throw new ConfigError('ENCLAVE_CA_CERT and ENCLAVE_CA_KEY go together: set both (PEM files) or neither');
  const certPem = readFile(env.ENCLAVE_CA_CERT, 'ENCLAVE_CA_CERT');
  const keyPem = readFile(env.ENCLAVE_CA_KEY, 'ENCLAVE_CA_KEY');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch {
    throw new ConfigError(`ENCLAVE_CA_CERT: ${env.ENCLAVE_CA_CERT} does not hold a PEM certificate`);
  }
  if (!certificate.ca) throw new ConfigError(`ENCLAVE_CA_CERT: the certificate in ${env.ENCLAVE_CA_CERT} is not a CA certificate (basicConstraints CA:TRUE)`);
  if (new Date(certificate.validTo) <= new Date()) throw new ConfigError(`ENCLAVE_CA_CERT: the CA certificate expired on ${new Date(certificate.validTo).toISOString()}`);
  const key = readPrivateKey(keyPem);
  if (!key) throw new ConfigError(`ENCLAVE_CA_KEY: ${env.ENCLAVE_CA_KEY} does not hold an unencrypted PEM private key`);
  if (key.asymmetricKeyType !== 'rsa') throw new ConfigError(`ENCLAVE_CA_KEY: the CA key must be an RSA key (it is ${key.asymmetricKeyType}); Enclave signs certificates with RSA only`);
  if (!certificate.checkPrivateKey(key)) throw new ConfigError(`ENCLAVE_CA_KEY: the key in ${env.ENCLAVE_CA_KEY} does not match the CA certificate in ${env.ENCLAVE_CA_CERT}`);
  // forge reads PKCS#1 or unencrypted PKCS#8: hand it PKCS#1 whatever the file holds.
  return authority('organisation', certificate.toString(), key.export({ type: 'pkcs1', format: 'pem' }) as string);
}

/**
 * The CA in use: the organisation's when configured, else the internal one, created on first call. Two
 * processes starting at once both generate one; the insert keeps the first and both use the stored row.
 */
export async function loadCertificateAuthority(db: Db, masterKey: Buffer, env: CaEnv): Promise<CertificateAuthority> {
  if (env.ENCLAVE_CA_CERT || env.ENCLAVE_CA_KEY) return organisationCa(env);
  const read = async () => (await db.select().from(certificateAuthority).where(eq(certificateAuthority.id, 1)))[0];
  let row = await read();
  if (!row) {
    const { privateKeyPem } = generateRsaKey(3072);
    const certPem = selfSignedCa(privateKeyPem, INTERNAL_CA_NAME, INTERNAL_CA_YEARS);
    const sealed = await encryptText(db, masterKey, privateKeyPem);
    const inserted = await db
      .insert(certificateAuthority)
      .values({ id: 1, certPem, keyCiphertext: sealed.ciphertext, dataKeyId: sealed.dataKeyId })
      .onConflictDoNothing()
      .returning({ id: certificateAuthority.id });
    if (inserted.length) log.info('created the internal certificate authority', { fingerprint: certificateFingerprint(certPem) });
    row = await read();
  }
  const keyPem = await decryptText(db, masterKey, row!.keyCiphertext, row!.dataKeyId);
  return authority('internal', row!.certPem, keyPem);
}
