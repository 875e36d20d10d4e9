import fs from 'node:fs';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { ConfigError, envSchema, type Env } from '../core/env';
import { log } from '../core/log';
import { probeRedis, redactRedisUrl } from './redis-probe';

export interface RedisHandle {
  stop(): Promise<void>;
}

export async function redisReachable(url: string): Promise<boolean> {
  return (await probeRedis(url, 1_000)).ok;
}

/** The REDIS_URL an install gets when it sets none: the only one Enclave may start a Redis for. */
export const DEFAULT_REDIS_URL: string = envSchema.shape.REDIS_URL.parse(undefined);

function findRedisServer(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'redis-server');
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Uses the Redis at REDIS_URL as configured, or fails the start naming REDIS_URL and what was found there.
 * Only for the default URL, with nothing listening, is a private `redis-server` started under the data
 * directory: an explicit URL means a Redis the operator runs, and quietly starting another in its place
 * would split the install's queues and caches. Redis holds only what can be rebuilt, so no persistence.
 */
export async function ensureRedis(env: Pick<Env, 'REDIS_URL' | 'dataDir'>, defaultUrl = DEFAULT_REDIS_URL): Promise<RedisHandle> {
  const found = await probeRedis(env.REDIS_URL);
  if (found.ok) return { stop: async () => {} };
  const shown = redactRedisUrl(env.REDIS_URL);
  if (env.REDIS_URL !== defaultUrl || !found.nothingListening) {
    throw new ConfigError(`REDIS_URL (${shown}): ${found.problem}. ${env.REDIS_URL === defaultUrl ? 'Stop what listens there, or set REDIS_URL to a running Redis.' : 'Fix REDIS_URL, or unset it to let Enclave run its own Redis on this machine.'}`);
  }
  const url = new URL(env.REDIS_URL);
  const binary = findRedisServer();
  if (!binary) {
    throw new ConfigError(
      `REDIS_URL is left at its default and nothing answers at ${url.host}, and no redis-server binary was found to start one there. Install it (Debian/Ubuntu: \`apt-get install -y redis-server\`; macOS: \`brew install redis\`) or set REDIS_URL to a running Redis.`,
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
