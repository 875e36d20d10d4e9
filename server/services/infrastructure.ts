import fs from 'node:fs';
import type { Env } from '../env';
import { createDb, type Db } from '../db/client';
import { applyMigrations } from '../db/migrate';
import { loadMasterKey } from '../security/master-key';
import { ensureEmbeddedPostgres } from './embedded-postgres';
import { ensureRedis } from './redis-server';

export interface Infrastructure {
  db: Db;
  masterKey: Buffer;
  databaseUrl: string;
  embeddedDatabase: boolean;
  /** Closes the pool, then stops the services this process started (not ones it found running). */
  close(): Promise<void>;
}

/**
 * What every role and admin command needs before it can work: the data directory, the master key,
 * PostgreSQL (embedded when DATABASE_URL is unset) with migrations applied, and Redis.
 */
export async function prepareInfrastructure(env: Env, { redis = true, migrate = true } = {}): Promise<Infrastructure> {
  fs.mkdirSync(env.dataDir, { recursive: true });
  const masterKey = loadMasterKey(env);
  const pgHandle = env.DATABASE_URL ? undefined : await ensureEmbeddedPostgres(env);
  const databaseUrl = env.DATABASE_URL ?? pgHandle!.url;
  // Code that reads the URL lazily (db(), child processes) sees the same database.
  process.env.DATABASE_URL = databaseUrl;
  const redisHandle = redis ? await ensureRedis(env).catch(async (e) => {
    await pgHandle?.stop();
    throw e;
  }) : undefined;
  const db = createDb(databaseUrl);
  if (migrate) await applyMigrations(db);
  return {
    db,
    masterKey,
    databaseUrl,
    embeddedDatabase: !env.DATABASE_URL,
    async close() {
      await db.$client.end().catch(() => {});
      await redisHandle?.stop();
      await pgHandle?.stop();
    },
  };
}
