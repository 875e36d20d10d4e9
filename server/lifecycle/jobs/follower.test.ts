import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { jobMetrics, jobs } from '../../db/schema';
import type { ProcessExit } from '../../process/engine-process';
import type { DetachedProcess } from '../../process/detached-process';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../../testing/database';
import { makeJob, makeUser } from '../../testing/factories';
import { until } from '../../testing/until';
import { closeRedis } from '../../core/redis';
import { JobFollower } from './follower';
import { tempDir } from './testing/fixtures';

process.env.REDIS_PREFIX = testRedisPrefix('follower');
let t: TestDatabase;
let dir: string;
beforeAll(async () => {
  t = await createTestDatabase('follower');
  dir = tempDir('follower');
});
afterAll(async () => {
  await closeRedis();
  await t?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A process we end by hand (the follower only sees its exit promise and its log file). */
function handProcess(logPath: string) {
  let end!: (e: ProcessExit) => void;
  const exited = new Promise<ProcessExit>((r) => (end = r));
  const proc: DetachedProcess = { pid: 0, logPath, adopted: false, exited, alive: () => true, stop: async () => {}, release: () => {} };
  return { proc, end };
}

const line = (o: object) => `${JSON.stringify(o)}\n`;

it('reads the last lines of a trainer that exits while a flush is waiting on the database', async () => {
  const owner = await makeUser(t.db, { role: 'engineer' });
  const job = await makeJob(t.db, { name: 'race', ownerId: owner.id, status: 'running' });
  const logPath = path.join(dir, 'trainer.log');
  fs.writeFileSync(logPath, line({ event: 'step', step: 1, total_steps: 2, loss: 1.5, learning_rate: 1e-4 }));
  const { proc, end } = handProcess(logPath);

  // Hold the job's row so the follower's first flush blocks; meanwhile the trainer finishes.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  const holder = t.db.transaction(async (tx) => {
    await tx.select().from(jobs).where(eq(jobs.id, job.id)).for('update');
    locked();
    await held;
  });
  await isLocked;
  const follower = new JobFollower(t.db, job.id, logPath, proc, { offset: 0, tail: [], startStep: 0, pollMs: 10, flushMs: 0, stopGraceMs: 100 });
  const outcome = follower.run();
  await until('the flush to wait on the row lock', async () => (await t.db.execute(sql`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock'`)).rows[0]!.n === 1);
  fs.appendFileSync(logPath, line({ event: 'step', step: 2, total_steps: 2, loss: 1.2, learning_rate: 0 }) + line({ event: 'done', adapter_path: '/x/adapter' }));
  end({ code: 0, signal: null });
  // The race under test: the exit lands while the flush still waits, so the lock is held a moment longer
  // (nothing outside the follower shows when it has seen the exit).
  await new Promise((r) => setTimeout(r, 50));
  release();
  await holder;

  expect(await outcome).toMatchObject({ exit: { code: 0 }, done: { adapter_path: '/x/adapter' }, cancelled: false });
  expect((await t.db.select().from(jobMetrics).where(eq(jobMetrics.jobId, job.id))).map((m) => m.step).sort()).toEqual([1, 2]);
  const [after] = await t.db.select().from(jobs).where(eq(jobs.id, job.id));
  expect(after!.progress).toMatchObject({ step: 2, totalSteps: 2, logOffset: fs.statSync(logPath).size });
  expect(after!.logTail).toEqual(['step 1/2 loss 1.5 lr 0.0001', 'step 2/2 loss 1.2 lr 0', 'done']);
});
