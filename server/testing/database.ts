import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDb, type Db } from '../db/client';
import { applyMigrations } from '../db/migrate';

/** The PostgreSQL server tests use: the machine's own (CI starts it), never an embedded one. */
export const TEST_PG_ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function databaseUrl(name: string): string {
  const url = new URL(TEST_PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export interface TestDatabase {
  name: string;
  url: string;
  db: Db;
  drop(): Promise<void>;
}

/** A fresh, empty database (no migrations: what a restore expects); drop() removes it. */
export async function createEmptyTestDatabase(label = 't', poolSize = 5): Promise<TestDatabase> {
  const name = `enclave_test_${label.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 20)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = databaseUrl(name);
  const db = createDb(url, poolSize);
  return {
    name,
    url,
    db,
    async drop() {
      await db.$client.end();
      const c = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A fresh, migrated database of its own for one test file; drop() removes it. */
export async function createTestDatabase(label = 't'): Promise<TestDatabase> {
  const t = await createEmptyTestDatabase(label);
  await applyMigrations(t.db);
  return t;
}

/** A Redis key prefix of its own for one test file. */
export function testRedisPrefix(label = 't'): string {
  return `enclave-test:${label}:${randomBytes(4).toString('hex')}`;
}
