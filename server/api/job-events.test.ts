import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { jobs } from '../db/schema';
import { closeJobFollowers, publishJobUpdate } from '../lifecycle/jobs/live';
import { closeRedis } from '../redis';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { until } from '../testing/until';
import { startApiTestServer } from './testing/api-test-server';

// The job page's live stream: real HTTP, real Redis pub/sub, the runner's own publish function.
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

const newJob = async (status: 'running' | 'succeeded') =>
  (await t.db.insert(jobs).values({ kind: 'quantize', name: 'q', ownerId: engineer.user.id, status, spec: {} }).returning())[0]!;

/** Reads an SSE response, collecting the JSON of each `data:` line until the server ends it. */
function collect(res: Response) {
  const events: Record<string, unknown>[] = [];
  const done = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of frame.split('\n')) if (line.startsWith('data: ')) events.push(JSON.parse(line.slice(6)));
      }
    }
  })();
  return { events, done };
}

it('streams the updates the runner publishes, and ends when the job ends', async () => {
  const job = await newJob('running');
  const res = await api.request(`/api/jobs/${job.id}/events`, { cookie: engineer.cookie });
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
  const res = await api.request(`/api/jobs/${job.id}/events`, { cookie: engineer.cookie });
  const stream = collect(res);
  await stream.done;
  expect(stream.events).toEqual([{ jobId: job.id, status: 'succeeded' }]);
});

it('refuses the signed-out, hides other people’s jobs from plain users, and 404s malformed ids', async () => {
  const job = await newJob('running');
  expect((await api.request(`/api/jobs/${job.id}/events`)).status).toBe(401);
  expect((await api.request(`/api/jobs/${job.id}/events`, { cookie: plainUser.cookie })).status).toBe(404);
  expect((await api.request('/api/jobs/not-a-uuid/events', { cookie: engineer.cookie })).status).toBe(404);
  expect((await api.request(`/api/jobs/${job.id}/events`, { cookie: engineer.cookie, method: 'POST', body: '{}' })).status).toBe(405);
});
