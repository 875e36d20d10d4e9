import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { jobs, sessions } from '../db/schema';
import { revokeSession } from '../security/sessions';
import { closeJobFollowers, publishJobUpdate } from '../lifecycle/jobs/live';
import { closeRedis } from '../core/redis';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { makeJob } from '../testing/factories';
import { until } from '../testing/until';
import { startApiTestServer } from './testing/api-test-server';
import { transformer } from './transformer';

// The job page's live stream (the jobs.events subscription): real HTTP, real Redis pub/sub, the runner's own publish function.
process.env.REDIS_PREFIX = testRedisPrefix('job-events');
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let engineer: Awaited<ReturnType<typeof api.userSession>>;
let plainUser: Awaited<ReturnType<typeof api.userSession>>;

beforeAll(async () => {
  t = await createTestDatabase('jobevents');
  api = await startApiTestServer({ db: t.db, masterKey: randomBytes(32) });
  engineer = await api.userSession('engineer');
  plainUser = await api.userSession('user');
});
afterAll(async () => {
  await api?.close();
  await closeJobFollowers();
  await closeRedis();
  await t?.drop();
});

const newJob = (status: 'running' | 'succeeded') => makeJob(t.db, { kind: 'quantize', name: 'q', ownerId: engineer.user.id, status });

/** The job's subscription as the browser opens it (GET, server-sent events in tRPC's framing). */
const follow = (id: string, cookie?: string) => api.request(`/api/trpc/jobs.events?input=${encodeURIComponent(JSON.stringify({ id }))}`, { cookie });

/** Reads a subscription's events until the server ends it: data decoded as the client does, errors by their status. */
function collect(res: Response) {
  const events: Record<string, unknown>[] = [];
  const errors: number[] = [];
  const done = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (data === undefined || data === '') continue;
        const value = transformer.output.deserialize(JSON.parse(data)) as Record<string, unknown>;
        if (event === 'serialized-error') errors.push((value.data as { httpStatus: number }).httpStatus);
        else if (event === undefined) events.push(value);
      }
    }
  })();
  return { events, errors, done };
}

it('streams the updates the runner publishes, and ends when the job ends', async () => {
  const job = await newJob('running');
  const res = await follow(job.id, engineer.cookie);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const stream = collect(res);
  await until('the current status', async () => stream.events.length >= 1);
  expect(stream.events[0]).toEqual({ jobId: job.id, status: 'running' });
  // Publish until one arrives: the subscription is made just after the first event is written.
  await until('a published update', async () => {
    await publishJobUpdate(job.id, { status: 'running', progress: { step: 3, totalSteps: 10 } });
    return stream.events.some((e) => (e.progress as { step?: number } | undefined)?.step === 3);
  });
  await publishJobUpdate(job.id, { status: 'succeeded' });
  await stream.done;
  expect(stream.events.at(-1)).toMatchObject({ jobId: job.id, status: 'succeeded' });
});

it('answers a finished job with its status and ends at once', async () => {
  const job = await newJob('succeeded');
  const stream = collect(await follow(job.id, engineer.cookie));
  await stream.done;
  expect(stream.events).toEqual([{ jobId: job.id, status: 'succeeded' }]);
});

it('refuses the signed-out, hides other people’s jobs from plain users, and 404s malformed ids', async () => {
  const job = await newJob('running');
  const refusal = async (res: Response) => {
    const stream = collect(res);
    await stream.done;
    return [...stream.errors, ...stream.events.map(() => 200)];
  };
  expect(await refusal(await follow(job.id))).toEqual([401]);
  expect(await refusal(await follow(job.id, plainUser.cookie))).toEqual([404]);
  expect(await refusal(await follow('not-a-uuid', engineer.cookie))).toEqual([404]);
  const post = await api.request('/api/trpc/jobs.events', { cookie: engineer.cookie, method: 'POST', body: JSON.stringify({ id: job.id }) });
  expect(await refusal(post)).toEqual([405]);
});

it('ends when its session is revoked elsewhere, saying why', async () => {
  const watcher = await api.userSession('engineer');
  const job = await newJob('running');
  const stream = collect(await follow(job.id, watcher.cookie));
  await until('the current status', async () => stream.events.length >= 1);
  const [session] = await t.db.select().from(sessions).where(eq(sessions.userId, watcher.user.id));
  expect(await revokeSession(t.db, session!.id, null)).toBe(true);
  await stream.done;
  expect(stream.errors).toEqual([401]);
  // An update after the revocation never reached it.
  await publishJobUpdate(job.id, { status: 'running', progress: { step: 9, totalSteps: 10 } });
  expect(stream.events).toEqual([{ jobId: job.id, status: 'running' }]);
}, 20_000);
