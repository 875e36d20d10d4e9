import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, expect, test } from 'vitest';
import { ensureEmbeddedPostgres } from './embedded-postgres';
import { freePort } from './free-port';
import { ensureRedis, redisReachable } from './redis-server';

const dirs: string[] = [];
function tempDataDir() {
  // The embedded server runs as the `postgres` user: its data directory must be reachable by it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-data-'));
  fs.chmodSync(dir, 0o711);
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('starts a real embedded PostgreSQL, finds it again while running, and stops it', async () => {
  const dataDir = tempDataDir();
  const first = await ensureEmbeddedPostgres({ dataDir });
  try {
    const client = new pg.Client({ connectionString: first.url });
    await client.connect();
    const { rows } = await client.query('SELECT current_database() AS db');
    expect(rows[0].db).toBe('enclave');
    await client.end();
    // An admin command run while `start` holds the server reuses it rather than starting another.
    const second = await ensureEmbeddedPostgres({ dataDir });
    expect(second.url).toBe(first.url);
    await second.stop();
    const still = new pg.Client({ connectionString: first.url });
    await still.connect();
    await still.end();
  } finally {
    await first.stop();
  }
  const after = new pg.Client({ connectionString: first.url, connectionTimeoutMillis: 1000 });
  after.on('error', () => {});
  await expect(after.connect()).rejects.toThrow();
}, 120_000);

test('starts redis-server under the data directory when nothing answers, and stops it', async () => {
  const url = `redis://127.0.0.1:${await freePort()}`;
  expect(await redisReachable(url)).toBe(false);
  const handle = await ensureRedis({ REDIS_URL: url, dataDir: tempDataDir() });
  expect(await redisReachable(url)).toBe(true);
  await handle.stop();
  expect(await redisReachable(url)).toBe(false);
});

test('without a local redis-server it says how to install one', async () => {
  await expect(ensureRedis({ REDIS_URL: 'redis://redis.invalid:6390', dataDir: tempDataDir() })).rejects.toThrow(/not reachable/);
  const savedPath = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    await expect(ensureRedis({ REDIS_URL: `redis://127.0.0.1:${await freePort()}`, dataDir: tempDataDir() })).rejects.toThrow(/apt-get install -y redis-server/);
  } finally {
    process.env.PATH = savedPath;
  }
});
