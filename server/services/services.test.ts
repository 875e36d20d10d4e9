import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import net from 'node:net';
import { afterAll, describe, expect, test } from 'vitest';
import { ConfigError } from '../core/env';
import { ensureEmbeddedPostgres } from './embedded-postgres';
import { freePort } from '../core/net/free-port';
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

/** A loopback TCP server for the probes: `answer` is what it writes back to whatever it receives (nothing: silent). */
async function tcpServer(answer?: string) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    if (answer !== undefined) socket.on('data', () => socket.end(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`, close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

describe('Redis at start', () => {
  test('the default URL with nothing listening gets a private redis-server under the data directory, stopped with the handle', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    expect(await redisReachable(url)).toBe(false);
    const handle = await ensureRedis({ REDIS_URL: url, dataDir: tempDataDir() }, url);
    expect(await redisReachable(url)).toBe(true);
    await handle.stop();
    expect(await redisReachable(url)).toBe(false);
  });

  test('an explicit URL where nothing listens fails the start naming REDIS_URL, and starts no Redis in its place', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const refused = ensureRedis({ REDIS_URL: url, dataDir: tempDataDir() });
    await expect(refused).rejects.toThrow(ConfigError);
    await expect(refused).rejects.toThrow(new RegExp(`^REDIS_URL \\(${url}/?\\): nothing is listening at 127\\.0\\.0\\.1:\\d+\\. Fix REDIS_URL, or unset it`));
    expect(await redisReachable(url)).toBe(false);
  });

  test('a port that is not Redis is named as such, whether it answers something else or nothing', async () => {
    const http = await tcpServer('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
    const silent = await tcpServer();
    try {
      await expect(ensureRedis({ REDIS_URL: http.url, dataDir: tempDataDir() })).rejects.toThrow(/^REDIS_URL \(redis:\/\/127\.0\.0\.1:\d+\/?\): the server at 127\.0\.0\.1:\d+ is not Redis/);
      await expect(ensureRedis({ REDIS_URL: silent.url, dataDir: tempDataDir() })).rejects.toThrow(/did not answer as Redis within 2 s \(is this a Redis port\?\)/);
      // Not even for the default URL: something else owns that port.
      await expect(ensureRedis({ REDIS_URL: http.url, dataDir: tempDataDir() }, http.url)).rejects.toThrow(/is not Redis \(its answer is not the Redis protocol\)\. Stop what listens there, or set REDIS_URL/);
    } finally {
      await http.close();
      await silent.close();
    }
  });

  test('a database index the real Redis does not have fails the start instead of running in database 0', async () => {
    await expect(ensureRedis({ REDIS_URL: 'redis://127.0.0.1:6379/99999', dataDir: tempDataDir() })).rejects.toThrow(
      /^REDIS_URL \(redis:\/\/127\.0\.0\.1:6379\/99999\): database index 99999 is out of range on Redis at 127\.0\.0\.1:6379/,
    );
    await expect(ensureRedis({ REDIS_URL: 'redis://127.0.0.1:6379/queues', dataDir: tempDataDir() })).rejects.toThrow(/its path "\/queues" is not a database index/);
    // An index it has is fine.
    await (await ensureRedis({ REDIS_URL: 'redis://127.0.0.1:6379/3', dataDir: tempDataDir() })).stop();
  });

  test('credentials the real Redis refuses are named, and the password is never shown', async () => {
    const failure = ensureRedis({ REDIS_URL: 'redis://enclave-nobody:s3cret-Pa55@127.0.0.1:6379', dataDir: tempDataDir() });
    await expect(failure).rejects.toThrow(/^REDIS_URL \(redis:\/\/enclave-nobody:\*\*\*@127\.0\.0\.1:6379\/?\): Redis at 127\.0\.0\.1:6379 refused the credentials in REDIS_URL/);
    await expect(failure).rejects.not.toThrow(/s3cret/);
  });

  test('a host that does not resolve is named', async () => {
    await expect(ensureRedis({ REDIS_URL: 'redis://redis.invalid:6390', dataDir: tempDataDir() })).rejects.toThrow(/^REDIS_URL \(redis:\/\/redis\.invalid:6390\/?\): the host of redis\.invalid:6390 does not resolve/);
  });

  test('without a local redis-server the default URL says how to install one', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const savedPath = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(ensureRedis({ REDIS_URL: url, dataDir: tempDataDir() }, url)).rejects.toThrow(/apt-get install -y redis-server/);
    } finally {
      process.env.PATH = savedPath;
    }
  });
});
