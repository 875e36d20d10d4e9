import type { Db } from '../db/client';
import type { Env } from '../core/env';
import { log } from '../core/log';
import { ensureAdmin } from '../security/users';

/** Where a person first signs in: the first public URL, or this machine on PORT. */
export function signInUrl(env: Pick<Env, 'ENCLAVE_PUBLIC_URL' | 'ENCLAVE_TLS_CERT' | 'PORT'>): string {
  const publicUrl = env.ENCLAVE_PUBLIC_URL?.split(',').map((u) => u.trim()).find(Boolean);
  return publicUrl ?? `${env.ENCLAVE_TLS_CERT ? 'https' : 'http'}://localhost:${env.PORT}`;
}

/**
 * The first admin's sign-in as one boxed block of plain ASCII (a serial console or a log viewer shows it
 * as well as a terminal), so it cannot be mistaken for, or lost among, the JSON log lines.
 */
export function formatAdminNotice(notice: { email: string; password: string; url: string }): string {
  const lines = [
    'Enclave created its first admin account.',
    '',
    `  Sign in at   ${notice.url}`,
    `  E-mail       ${notice.email}`,
    `  Password     ${notice.password}`,
    '',
    'The password is shown this once and is stored nowhere in clear:',
    'you choose your own at the first sign-in.',
    'Lost it? Run: npx enclave users create --email YOU --role admin',
  ];
  const width = Math.max(...lines.map((l) => l.length));
  const rule = `+${'-'.repeat(width + 2)}+`;
  return ['', rule, ...lines.map((l) => `| ${l.padEnd(width)} |`), rule, '', ''].join('\n');
}

/**
 * Makes the first admin when there is none, and returns the block to print for a generated one-time password.
 * The caller prints it on stdout once the start is over (after the ready line, so the UI build's output
 * cannot scroll it away; or before the failure message when the start fails): never through the logger,
 * as the JSON logs (stderr) go to log stores many people read. Enclave writes no log file of its own.
 * The log line says an admin was made, never the password.
 */
export async function bootstrapAdmin(
  db: Db,
  env: Pick<Env, 'ENCLAVE_ADMIN_EMAIL' | 'ENCLAVE_ADMIN_PASSWORD' | 'ENCLAVE_PUBLIC_URL' | 'ENCLAVE_TLS_CERT' | 'PORT'>,
): Promise<string | undefined> {
  const admin = await ensureAdmin(db, env);
  if (!admin.created) return undefined;
  if (!admin.oneTimePassword) {
    log.info('created the admin from ENCLAVE_ADMIN_EMAIL', { email: admin.email });
    return undefined;
  }
  log.info('created the first admin with a one-time password (printed once on stdout)', { email: admin.email });
  return formatAdminNotice({ email: admin.email, password: admin.oneTimePassword, url: signInUrl(env) });
}
