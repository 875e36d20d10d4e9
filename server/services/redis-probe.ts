import { Redis } from 'ioredis';
import { redisDatabase } from '../core/redis';

/** What answered at a Redis URL: usable as configured, or what is wrong, in words an operator can act on. */
export type RedisProbe = { ok: true } | { ok: false; nothingListening: boolean; problem: string };

/** The URL as it may be shown: the password never reaches a log or an error. */
export function redactRedisUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(not a URL)';
  }
}

/**
 * Connects once, authenticates, selects the configured database and pings, the way every Enclave client
 * will. ioredis alone would report "ready" and go on in database 0 when SELECT fails, and a reconnect
 * loop hides what it found: here the first error decides, and it is named.
 */
export async function probeRedis(raw: string, timeoutMs = 2_000): Promise<RedisProbe> {
  let url: URL;
  let db: number;
  try {
    url = new URL(raw);
    db = redisDatabase(raw);
  } catch (error) {
    return { ok: false, nothingListening: false, problem: (error as Error).message };
  }
  const where = url.host || 'localhost:6379';
  const errors: (Error & { code?: string })[] = [];
  // db 0 here: the SELECT is ours to send, so that its refusal is an error and not a silent fallback.
  const client = new Redis(raw, {
    db: 0,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    // Our PING is the first command, so a silent server times out once, not once per ready check.
    enableReadyCheck: false,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  client.on('error', (e: Error) => errors.push(e));
  const work = (async () => {
    await client.connect();
    if (db !== 0) await client.select(db);
    return client.ping();
  })().then(
    (pong) => ({ pong }),
    (error: Error) => ({ error }),
  );
  // One deadline for the whole exchange: ioredis would spend a timeout per step on a silent server.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  try {
    const outcome = await Promise.race([work, deadline]);
    if (outcome === 'timeout') {
      if (errors[0]) return explain(errors[0], where, db, timeoutMs);
      const connected = client.status === 'connect' || client.status === 'ready';
      return explain(new Error(connected ? 'Command timed out' : 'connect ETIMEDOUT'), where, db, timeoutMs);
    }
    if ('error' in outcome) return explain(errors[0] ?? outcome.error, where, db, timeoutMs);
    if (outcome.pong !== 'PONG') return { ok: false, nothingListening: false, problem: `the server at ${where} did not answer PING as Redis does` };
    return { ok: true };
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

function explain(error: Error & { code?: string }, where: string, db: number, timeoutMs: number): RedisProbe {
  const message = error.message ?? '';
  const seconds = `${timeoutMs / 1000} s`;
  const no = (problem: string, nothingListening = false): RedisProbe => ({ ok: false, nothingListening, problem });
  if (error.code === 'ECONNREFUSED') return no(`nothing is listening at ${where}`, true);
  if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') return no(`the host of ${where} does not resolve`);
  if (error.code === 'ETIMEDOUT' || /connect ETIMEDOUT/.test(message)) return no(`no connection to ${where} within ${seconds} (a firewall, or the wrong address)`);
  if (/Unknown RESP type|Protocol error/i.test(message)) return no(`the server at ${where} is not Redis (its answer is not the Redis protocol)`);
  if (/Command timed out/i.test(message)) return no(`the server at ${where} accepted the connection but did not answer as Redis within ${seconds} (is this a Redis port?)`);
  if (/^NOAUTH/.test(message)) return no(`Redis at ${where} requires a password: put it in REDIS_URL (redis://:PASSWORD@host:port)`);
  if (/^WRONGPASS|invalid password|invalid username-password/i.test(message)) return no(`Redis at ${where} refused the credentials in REDIS_URL (AUTH failed)`);
  if (/DB index is out of range/i.test(message)) return no(`database index ${db} is out of range on Redis at ${where} (its 'databases' setting allows fewer)`);
  if (/^NOPERM/.test(message)) return no(`Redis at ${where} does not let this user run the commands Enclave needs (${message.split('\n')[0]!.slice(0, 200)})`);
  return no(`Redis at ${where} failed: ${message.split('\n')[0]!.slice(0, 200) || error.name}`);
}
