import type { Env } from '../../core/env';
import { readTlsPair } from '../../http/tls';
import { fail, ok, reason, warn, type CheckResult } from './types';

const DAY = 86_400_000;

/**
 * ENCLAVE_TLS_CERT/KEY read and checked by the same code the listeners use (PEM, key matches, dates,
 * servable with TLS 1.2+), and an expiry close enough to plan for.
 */
export function checkTls(env: Pick<Env, 'ENCLAVE_TLS_CERT' | 'ENCLAVE_TLS_KEY'>, now = new Date(), renewWithinDays = 30): CheckResult {
  const { ENCLAVE_TLS_CERT: cert, ENCLAVE_TLS_KEY: key } = env;
  if (!cert && !key) return ok('tls', 'off: plain HTTP (terminate TLS at an ingress or proxy in front, or set ENCLAVE_TLS_CERT and ENCLAVE_TLS_KEY)');
  if (!cert || !key) return fail('tls', 'only one of ENCLAVE_TLS_CERT and ENCLAVE_TLS_KEY is set', 'Set both (PEM files) or neither');
  try {
    const { certificate } = readTlsPair(cert, key, now);
    const notAfter = new Date(certificate.validTo);
    const days = Math.floor((notAfter.getTime() - now.getTime()) / DAY);
    const subject = certificate.subject.replace(/\n/g, ', ');
    const names = certificate.subjectAltName ? `; ${certificate.subjectAltName}` : '';
    const detail = `${subject}${names}; valid until ${notAfter.toISOString().slice(0, 10)} (${days} days)`;
    if (days < renewWithinDays) return warn('tls', detail, `Renew the certificate: replace the files in place, Enclave reloads them without a restart`);
    return ok('tls', detail);
  } catch (e) {
    return fail('tls', reason(e), 'Give a PEM certificate (chain) that is currently valid and its matching unencrypted key, both readable by the user running Enclave');
  }
}
