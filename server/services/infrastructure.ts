import cluster from 'node:cluster';
import fs from 'node:fs';
import type { Env } from '../core/env';
import { createDb, type Db } from '../db/client';
import { auditLogPowers, auditLogPowersWarning } from '../db/app-role';
import { migrateDatabase } from '../db/migrate';
import { log } from '../core/log';
import { loadMasterKey, type MasterKeySource } from '../security/master-key';
import { ensureEmbeddedPostgres } from './embedded-postgres';
import { ensureRedis } from './redis-server';

export interface Infrastructure {
  db: Db;
  masterKey: Buffer;
  /** Where the master key came from (`keys rotate-master` puts the new one back there when it can). */
  masterKeySource: { source: MasterKeySource; file?: string };
  databaseUrl: string;
  /** The role owning the tables (DATABASE_OWNER_URL, or the embedded server's superuser); unset: the app's own. */
  ownerUrl?: string;
  embeddedDatabase: boolean;
  /** Closes the pool, then stops the services this process started (not ones it found running). */
  close(): Promise<void>;
}

let ownerUrlOfThisProcess: string | undefined;
/** The owner's URL this process prepared (restores and restore drills need a role that may create tables and databases). */
export function databaseOwnerUrl(): string | undefined {
  return ownerUrlOfThisProcess;
}

/**
 * What every role and admin command needs before it can work: the data directory, the master key,
 * PostgreSQL (embedded when DATABASE_URL is unset) with migrations applied, and Redis.
 */
export async function prepareInfrastructure(env: Env, { redis = true, migrate = true, warnings = true } = {}): Promise<Infrastructure> {
  fs.mkdirSync(env.dataDir, { recursive: true });
  const { key: masterKey, source, file, warnings: keyWarnings } = await loadMasterKey(env);
  if (env.DATABASE_OWNER_URL && !env.DATABASE_URL) throw new Error('DATABASE_OWNER_URL is set without DATABASE_URL: set both, or neither for the embedded PostgreSQL');
  const pgHandle = env.DATABASE_URL ? undefined : await ensureEmbeddedPostgres(env);
  const databaseUrl = env.DATABASE_URL ?? pgHandle!.url;
  // Code that reads the URL lazily (db(), child processes) sees the same database.
  process.env.DATABASE_URL = databaseUrl;
  const redisHandle = redis ? await ensureRedis(env).catch(async (e) => {
    await pgHandle?.stop();
    throw e;
  }) : undefined;
  // A gateway worker (GATEWAY_WORKERS, one per core by default) needs few connections: its request-log
  // batches, key lookups and routing reloads. Ten each on a 64-core host would exceed PostgreSQL's default
  // max_connections (100) from the gateway alone.
  const db = createDb(databaseUrl, cluster.isWorker ? 4 : 10);
  const ownerUrl = env.DATABASE_OWNER_URL ?? pgHandle?.ownerUrl;
  ownerUrlOfThisProcess = ownerUrl;
  if (migrate) await migrateDatabase(db, ownerUrl);
  // Said at start (admin commands pass warnings: false to keep their output clean).
  if (warnings) {
    for (const warning of [...keyWarnings, auditLogPowersWarning(await auditLogPowers(db))]) if (warning) log.warn(warning);
  }
  return {
    db,
    masterKey,
    masterKeySource: { source, file },
    databaseUrl,
    ownerUrl,
    embeddedDatabase: !env.DATABASE_URL,
    async close() {
      await db.$client.end().catch(() => {});
      await redisHandle?.stop();
      await pgHandle?.stop();
    },
  };
}
