import type { Redis } from 'ioredis';
import { redis, redisKey } from '../../core/redis';

/** The channel a job's updates are published on (`enclave:job:<id>` with the default prefix). */
export const jobChannel = (jobId: string) => redisKey('job', jobId);

/**
 * Tells followers (the UI's live stream) that a job's row changed, with the figures that changed.
 * Best effort: the row is the truth and polling reads it, so a Redis hiccup must not fail the job.
 */
export async function publishJobUpdate(jobId: string, update: Record<string, unknown>): Promise<void> {
  await redis()
    .publish(jobChannel(jobId), JSON.stringify({ jobId, ...update }))
    .catch(() => undefined);
}

// One subscriber connection per process serves every open job stream (a subscribed ioredis connection
// can do nothing else, so it is separate from the command client).
let subscriber: Redis | undefined;
const listeners = new Map<string, Set<(message: string) => void>>();

/** Calls `onMessage` with each update published for the job until the returned stop function is called. */
export async function followJob(jobId: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
  const channel = jobChannel(jobId);
  if (!subscriber) {
    const s = (subscriber = redis().duplicate());
    s.on('error', () => {});
    s.on('message', (ch: string, message: string) => {
      for (const listener of listeners.get(ch) ?? []) listener(message);
    });
  }
  const s = subscriber;
  let set = listeners.get(channel);
  if (!set) {
    listeners.set(channel, (set = new Set()));
    await s.subscribe(channel);
  }
  set.add(onMessage);
  const own = set;
  return async () => {
    own.delete(onMessage);
    if (own.size === 0 && listeners.get(channel) === own) {
      listeners.delete(channel);
      await s.unsubscribe(channel).catch(() => undefined);
    }
  };
}

/** Closes the subscriber connection (role shutdown, tests). */
export async function closeJobFollowers(): Promise<void> {
  const s = subscriber;
  subscriber = undefined;
  listeners.clear();
  await s?.quit().catch(() => s.disconnect());
}
