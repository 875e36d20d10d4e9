import fs from 'node:fs';
import path from 'node:path';
import type { Env } from '../../core/env';
import { DEFAULT_REDIS_URL } from '../../services/redis-server';
import { probeRedis, redactRedisUrl } from '../../services/redis-probe';
import { fail, ok, type CheckResult } from './types';

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Redis as `start` resolves it (services/redis-server.ts): REDIS_URL answering as configured, or, only
 * for the default URL with nothing listening, a redis-server binary Enclave can start there itself.
 */
export async function checkRedis(env: Pick<Env, 'REDIS_URL'>, timeoutMs = 2_000): Promise<CheckResult> {
  const shown = redactRedisUrl(env.REDIS_URL);
  const found = await probeRedis(env.REDIS_URL, timeoutMs);
  if (found.ok) return ok('redis', `Redis answers at ${shown}`);
  if (env.REDIS_URL === DEFAULT_REDIS_URL && found.nothingListening) {
    const binary = onPath('redis-server');
    if (binary) return ok('redis', `nothing at ${shown} yet: \`enclave start\` runs ${binary} there, under the data directory`);
    return fail('redis', `nothing answers at ${shown} and no redis-server is installed to start there`, 'Install Redis (Debian/Ubuntu: apt-get install -y redis-server) or set REDIS_URL to a running Redis');
  }
  return fail('redis', `REDIS_URL (${shown}): ${found.problem}`, env.REDIS_URL === DEFAULT_REDIS_URL ? 'Stop what listens there, or set REDIS_URL to a running Redis' : 'Fix REDIS_URL (host, port, password, database number), or unset it to let Enclave run its own Redis on this machine');
}
