import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { ConfigError } from '../core/env';
import { errorMessage, log } from '../core/log';

/**
 * HTTPS on Enclave's own listeners (web, gateway, the agents' mTLS port): ENCLAVE_TLS_CERT and
 * ENCLAVE_TLS_KEY name PEM files, checked at start (readable, a certificate and a key that belong
 * together, within their validity), served with TLS 1.2 at least, and watched: a renewed pair (certbot,
 * cert-manager swapping a Secret's files) is picked up without a restart, a bad one is refused with a log
 * line and the pair in use is kept. With TLS on, every response says Strict-Transport-Security.
 */
export const TLS_MIN_VERSION = 'TLSv1.2' as const;

export interface TlsEnv {
  ENCLAVE_TLS_CERT?: string;
  ENCLAVE_TLS_KEY?: string;
  /** Seconds; 0 sends no HSTS header. */
  ENCLAVE_HSTS_MAX_AGE: number;
  /** How often the files are checked for a change. */
  ENCLAVE_TLS_RELOAD_MS: number;
}

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
  certificate: X509Certificate;
}

/**
 * The TLS settings one process's listeners share. `pair()` is the pair being served now (the reload
 * replaces it); listeners created from these settings follow every accepted change.
 */
export interface TlsSettings {
  certFile: string;
  keyFile: string;
  hstsMaxAge: number;
  pair(): TlsPair;
  /** Re-reads the files now; true when a new pair was taken (tests, and the watcher). */
  reload(): boolean;
  onChange(listener: (pair: TlsPair) => void): () => void;
  /** Stops watching the files. */
  close(): void;
}

export class TlsFileError extends ConfigError {}

function readPem(file: string, variable: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new TlsFileError(`${variable}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? errorMessage(e)})`);
  }
}

/** Reads and checks a certificate and its key; throws a TlsFileError saying what is wrong. */
export function readTlsPair(certFile: string, keyFile: string, now = new Date()): TlsPair {
  const cert = readPem(certFile, 'ENCLAVE_TLS_CERT');
  const key = readPem(keyFile, 'ENCLAVE_TLS_KEY');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    throw new TlsFileError(`ENCLAVE_TLS_CERT: ${certFile} does not hold a PEM certificate`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    const encrypted = /passphrase|encrypted/i.test(errorMessage(e)) || key.includes('ENCRYPTED');
    throw new TlsFileError(`ENCLAVE_TLS_KEY: ${keyFile} does not hold a PEM private key${encrypted ? ' Enclave can read (it is encrypted: give the key without a passphrase, readable by Enclave only)' : ''}`);
  }
  if (!certificate.checkPrivateKey(privateKey)) throw new TlsFileError(`ENCLAVE_TLS_KEY: the key in ${keyFile} does not match the certificate in ${certFile}`);
  const notAfter = new Date(certificate.validTo);
  const notBefore = new Date(certificate.validFrom);
  if (notAfter <= now) throw new TlsFileError(`ENCLAVE_TLS_CERT: the certificate in ${certFile} expired on ${notAfter.toISOString()}`);
  if (notBefore > now) throw new TlsFileError(`ENCLAVE_TLS_CERT: the certificate in ${certFile} is not valid before ${notBefore.toISOString()}`);
  try {
    tls.createSecureContext({ cert, key, minVersion: TLS_MIN_VERSION });
  } catch (e) {
    throw new TlsFileError(`ENCLAVE_TLS_CERT: ${certFile} and ${keyFile} cannot be served (${errorMessage(e)})`);
  }
  return { cert, key, certificate };
}

/** The TLS settings from the environment, checked; null when TLS is off (neither file named). */
export function loadTls(env: TlsEnv): TlsSettings | null {
  const { ENCLAVE_TLS_CERT: certFile, ENCLAVE_TLS_KEY: keyFile } = env;
  if (!certFile && !keyFile) return null;
  if (!certFile || !keyFile) throw new TlsFileError('ENCLAVE_TLS_CERT and ENCLAVE_TLS_KEY go together: set both (PEM files) or neither');
  let current = readTlsPair(certFile, keyFile);
  const listeners = new Set<(pair: TlsPair) => void>();
  let lastSeen = fingerprintOfFiles(certFile, keyFile);

  const reload = (): boolean => {
    const seen = fingerprintOfFiles(certFile, keyFile);
    if (seen === lastSeen) return false;
    lastSeen = seen;
    let next: TlsPair;
    try {
      next = readTlsPair(certFile, keyFile);
    } catch (e) {
      // Half-written files (the key replaced a moment after the certificate) land here too: the next
      // change is tried again, and the pair in use serves meanwhile.
      log.error('TLS certificate not reloaded: keeping the one in use', { error: errorMessage(e), serving: current.certificate.fingerprint256 });
      return false;
    }
    if (next.certificate.fingerprint256 === current.certificate.fingerprint256 && next.key.equals(current.key)) return false;
    current = next;
    log.info('TLS certificate reloaded', { subject: next.certificate.subject.replace(/\n/g, ', '), notAfter: new Date(next.certificate.validTo).toISOString(), fingerprint: next.certificate.fingerprint256 });
    for (const l of listeners) l(next);
    return true;
  };
  // Polling stat, not fs.watch: it follows symlinks swapped under the path (a Kubernetes Secret) and
  // renames by editors, where inotify watches would go quiet.
  const onStat = () => void reload();
  const interval = env.ENCLAVE_TLS_RELOAD_MS;
  fs.watchFile(certFile, { interval, persistent: false }, onStat);
  fs.watchFile(keyFile, { interval, persistent: false }, onStat);
  return {
    certFile,
    keyFile,
    hstsMaxAge: env.ENCLAVE_HSTS_MAX_AGE,
    pair: () => current,
    reload,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      fs.unwatchFile(certFile, onStat);
      fs.unwatchFile(keyFile, onStat);
      listeners.clear();
    },
  };
}

/** What the two files hold now, cheaply: a change of either (or a failed read) differs. */
function fingerprintOfFiles(certFile: string, keyFile: string): string {
  const part = (file: string) => {
    try {
      const s = fs.statSync(file);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  };
  return `${part(certFile)}|${part(keyFile)}`;
}

const HSTS = Symbol('enclave.hsts');
type Marked = { [HSTS]?: string };

/** The Strict-Transport-Security value a listener sends (undefined: a plain HTTP listener, or HSTS off). */
export function hstsOf(server: http.Server | https.Server): string | undefined {
  return (server as unknown as Marked)[HSTS];
}

export interface ListenerOptions extends http.ServerOptions {
  /** Client certificates (mutual TLS): the CAs they must chain to; the handshake refuses any other. */
  clientCa?: () => string[];
}

/**
 * The one way Enclave's listeners are made: plain HTTP when `settings` is null, else HTTPS serving the
 * current pair (and every later accepted one, through setSecureContext) with TLS 1.2 at least and HSTS
 * on every response. Typed as http.Server: an https.Server has every member the callers use.
 */
export function createListener(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  settings: TlsSettings | null,
  options: ListenerOptions = {},
): http.Server {
  const { clientCa, ...httpOptions } = options;
  if (!settings) return http.createServer(httpOptions, handler);
  const hsts = settings.hstsMaxAge > 0 ? `max-age=${settings.hstsMaxAge}` : undefined;
  const context = (pair: TlsPair): tls.SecureContextOptions => ({
    cert: pair.cert,
    key: pair.key,
    minVersion: TLS_MIN_VERSION,
    ...(clientCa ? { ca: clientCa() } : {}),
  });
  const server = https.createServer(
    {
      ...httpOptions,
      ...context(settings.pair()),
      ...(clientCa ? { requestCert: true, rejectUnauthorized: true } : {}),
    } as https.ServerOptions,
    hsts
      ? (req, res) => {
          res.setHeader('strict-transport-security', hsts);
          handler(req, res);
        }
      : handler,
  );
  (server as unknown as Marked)[HSTS] = hsts;
  const stop = settings.onChange((pair) => {
    try {
      server.setSecureContext(context(pair));
    } catch (e) {
      log.error('TLS certificate not applied to a listener: keeping the one in use', { error: errorMessage(e) });
    }
  });
  server.once('close', stop);
  // A handshake that fails (an old TLS version, a client certificate refused) never reaches HTTP.
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => log.debug('TLS handshake refused', { code: err.code, error: err.message }));
  return server as unknown as http.Server;
}
