import fs from 'node:fs';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { Redis } from 'ioredis';
import type { Env } from '../env';
import { log } from '../log';

export interface RedisHandle {
  stop(): Promise<void>;
}

export async function redisReachable(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

function findRedisServer(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'redis-server');
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Uses the Redis at REDIS_URL, or starts `redis-server` under the data directory when the URL points
 * at this machine and nothing answers there. Redis holds only what can be rebuilt, so no persistence.
 */
export async function ensureRedis(env: Pick<Env, 'REDIS_URL' | 'dataDir'>): Promise<RedisHandle> {
  if (await redisReachable(env.REDIS_URL)) return { stop: async () => {} };
  const url = new URL(env.REDIS_URL);
  const local = ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(url.hostname);
  const binary = findRedisServer();
  if (!local || !binary) {
    throw new Error(
      `Redis is not reachable at ${url.host}` +
        (local
          ? ' and no redis-server binary was found. Install it (Debian/Ubuntu: `apt-get install -y redis-server`; macOS: `brew install redis`) or set REDIS_URL to a running Redis.'
          : '. Start it or set REDIS_URL to a running Redis.'),
    );
  }
  const dir = path.join(env.dataDir, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  const child: ResultPromise = execa(
    binary,
    ['--port', url.port || '6379', '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'],
    { reject: false, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  for (let i = 0; i < 50; i++) {
    if (await redisReachable(env.REDIS_URL)) {
      log.info('started redis-server under the data directory', { port: url.port || '6379' });
      return {
        stop: async () => {
          child.kill('SIGTERM');
          await child;
        },
      };
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not start on port ${url.port || '6379'}`);
}
