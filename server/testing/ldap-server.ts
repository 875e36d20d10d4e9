import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../core/net/free-port';
import { until } from './until';

/** The test directory (ldap/directory.ldif): its suffix, service account and people. */
export const TEST_DIRECTORY = {
  suffix: 'dc=example,dc=org',
  rootDn: 'cn=admin,dc=example,dc=org',
  rootPassword: 'root-secret',
  serviceDn: 'cn=enclave-svc,dc=example,dc=org',
  servicePassword: 'svc-secret',
  userBase: 'ou=people,dc=example,dc=org',
  groupBase: 'ou=groups,dc=example,dc=org',
};

export interface LdapServer {
  /** ldap://127.0.0.1:port (StartTLS offered when started with tls). */
  url: string;
  /** ldaps://127.0.0.1:port, with tls only. */
  ldapsUrl?: string;
  /** The PEM of the CA that signed the server's certificate, with tls only. */
  caFile?: string;
  dir: string;
  stop(): Promise<void>;
}

const SLAPD = process.env.ENCLAVE_TEST_SLAPD ?? '/usr/sbin/slapd';
const SLAPADD = process.env.ENCLAVE_TEST_SLAPADD ?? '/usr/sbin/slapadd';
const SCHEMA = '/etc/ldap/schema';

/** A throwaway CA and a certificate for 127.0.0.1/localhost signed by it (openssl, EC keys: fast). */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=Enclave test LDAP CA');
  ssl('req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(f('san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('san.cnf'));
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

/**
 * Starts Debian's slapd as a child process on free loopback ports, with a configuration of its own in a
 * temporary folder (slapd.conf, an mdb database loaded with slapadd from ldap/directory.ldif): no system
 * service, nothing outside the folder. With tls, a CA and certificate are made for it and it also
 * listens on ldaps://. stop() ends it and removes the folder.
 */
export async function startLdapServer(opts: { tls?: boolean; ldif?: string } = {}): Promise<LdapServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'enclave-slapd-'));
  mkdirSync(path.join(dir, 'db'));
  const certs = opts.tls ? makeCertificates(dir) : undefined;
  const conf = path.join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      ...['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include ${SCHEMA}/${s}.schema`),
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      `pidfile ${dir}/slapd.pid`,
      ...(certs ? [`TLSCACertificateFile ${certs.ca}`, `TLSCertificateFile ${certs.cert}`, `TLSCertificateKeyFile ${certs.key}`] : []),
      'database mdb',
      'maxsize 16777216',
      `suffix "${TEST_DIRECTORY.suffix}"`,
      `rootdn "${TEST_DIRECTORY.rootDn}"`,
      `rootpw ${TEST_DIRECTORY.rootPassword}`,
      `directory ${dir}/db`,
      // Passwords only for binding; the directory only for those who bound (the service account).
      'access to attrs=userPassword by self write by anonymous auth by * none',
      'access to * by users read by * none',
      '',
    ].join('\n'),
  );
  const ldif = opts.ldif ?? path.join(path.dirname(fileURLToPath(import.meta.url)), 'ldap', 'directory.ldif');
  execFileSync(SLAPADD, ['-f', conf, '-l', ldif], { stdio: 'pipe' });
  const port = await freePort();
  const tlsPort = certs ? await freePort() : undefined;
  const urls = [`ldap://127.0.0.1:${port}/`, ...(tlsPort ? [`ldaps://127.0.0.1:${tlsPort}/`] : [])];
  // -d 0: in the foreground (a child we can stop), logging nothing.
  const child: ChildProcess = spawn(SLAPD, ['-f', conf, '-h', urls.join(' '), '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  let exited = false;
  // A test run that dies without stop() must not leave slapd behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => {
    exited = true;
    process.off('exit', killOnExit);
  });
  const accepts = (p: number) =>
    new Promise<boolean>((resolve) => {
      const s = net.connect(p, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
  try {
    await until('slapd to listen', async () => {
      if (exited) throw new Error(`slapd exited: ${stderr}`);
      return (await accepts(port)) && (!tlsPort || (await accepts(tlsPort)));
    }, 20_000, 50);
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    url: `ldap://127.0.0.1:${port}`,
    ldapsUrl: tlsPort ? `ldaps://127.0.0.1:${tlsPort}` : undefined,
    caFile: certs?.ca,
    dir,
    async stop() {
      if (!exited) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000))]);
        if (!exited) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
