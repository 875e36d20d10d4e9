import fs from 'node:fs';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeRedis } from '../../core/redis';
import { jobMetrics, jobs, modelVersions } from '../../db/schema';
import { TEST_MODEL_PATH } from '../../engines/llamacpp/test-support';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../../testing/database';
import { makeJob, makeModelVersion } from '../../testing/factories';
import { until } from '../../testing/until';
import { writeDatasetPart } from '../datasets/store';
import { runGgufQuantize } from './quantize-gguf';
import { tempDir } from './testing/fixtures';
import { jobWorkspace } from './workspace';

/**
 * A worker that stalls past its lease (a long pause of its event loop on a loaded host) while another
 * worker takes its quantization over must write nothing more: the attempt number fences it off, so the
 * job is finished once, by the run that owns it, and the stalled run's half-written file is its own.
 */
process.env.REDIS_PREFIX = testRedisPrefix('ggufence');
let t: TestDatabase;
let dataDir: string;
beforeAll(async () => {
  t = await createTestDatabase('ggufence');
  dataDir = tempDir('ggufence');
});
afterAll(async () => {
  await closeRedis();
  await t?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const row = async (id: string) => (await t.db.select().from(jobs).where(eq(jobs.id, id)))[0]!;

it('a run superseded by another worker stops at its next step and leaves the row, the versions and the output to the new run', async () => {
  const { version } = await makeModelVersion(t.db, { location: TEST_MODEL_PATH, format: 'gguf' });
  const job = await makeJob(t.db, { kind: 'quantize', status: 'queued', baseVersionId: version.id, spec: { sourceVersionId: version.id, target: 'q8_0', maxPerplexityDeltaPct: 5 } });
  const deps = { db: t.db, dataDir, runnerNode: 'stalled-worker', writeDataset: writeDatasetPart };
  const run = runGgufQuantize(deps, job);
  await until('the first run measuring', async () => (await row(job.id)).progress.stage === 'perplexity before', 60_000, 20);
  // Another worker found the lease gone and claimed the job: the attempt moved on under this run.
  await t.db.update(jobs).set({ attempts: 2, nodeName: 'other-worker' }).where(eq(jobs.id, job.id));
  await run;
  const after = await row(job.id);
  expect(after).toMatchObject({ status: 'running', attempts: 2, nodeName: 'other-worker', error: null, outputVersionId: null });
  expect(await t.db.select().from(modelVersions).where(eq(modelVersions.producedByJobId, job.id))).toEqual([]);
  expect(await t.db.select().from(jobMetrics).where(eq(jobMetrics.jobId, job.id))).toEqual([]);
  const out = jobWorkspace(dataDir, job.id).output;
  expect(fs.existsSync(out) ? fs.readdirSync(out) : []).toEqual([]);

  // The run that owns it now finishes it, once.
  await runGgufQuantize(deps, await row(job.id));
  const done = await row(job.id);
  expect([done.status, done.error, done.attempts]).toEqual(['succeeded', null, 3]);
  const versions = await t.db.select().from(modelVersions).where(eq(modelVersions.producedByJobId, job.id));
  expect(versions.map((v) => v.id)).toEqual([done.outputVersionId]);
  expect(fs.readdirSync(out)).toEqual([`${job.id.slice(0, 8)}-q8_0.gguf`]);
}, 120_000);
