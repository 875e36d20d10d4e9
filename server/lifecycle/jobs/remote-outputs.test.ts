import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTrainingWorker } from '../../../workers/training';
import { startApiTestServer } from '../../api/testing/api-test-server';
import { ArtifactStore, closeArtifactBackends, dataKeysOf, readDirectoryIndex, s3Backend } from '../../artifacts';
import { parseEnv } from '../../core/env';
import { closeQueues, queue } from '../../core/queues';
import { closeRedis } from '../../core/redis';
import { auditLog, modelVersions } from '../../db/schema';
import { createJoinToken } from '../../fleet/nodes/join-tokens';
import { startRemoteAgent } from '../../fleet/nodes/remote-agent';
import type { GpuInfo } from '../../gpu/types';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../../testing/database';
import { makeDataset, makeUser } from '../../testing/factories';
import { startTestS3Server, type TestS3Server } from '../../testing/s3-server';
import { cachedModelPath } from '../../artifacts';
import { createFinetuneJob, createQuantizeJob } from './create';
import { FAST_TRAINING_TIMINGS, jobProbes, makeHfBase, tempDir, TRAINER_DOUBLE_COMMAND, trainerDoubleKnobs } from './testing/fixtures';
import { jobWorkspace } from './workspace';

/**
 * A trainer on a joined agent's host (no master key, no database, no shared disk): before it reports the
 * successful exit, the agent sends each output directory to the control plane over the control API, which
 * seals it into the artifact store (s3rver) and writes its index; the exit's settling registers the
 * versions from the store. Real PostgreSQL, Redis, HTTP and S3 API; the trainer is the double.
 */
process.env.REDIS_PREFIX = testRedisPrefix('remoteoutputs');
let t: TestDatabase;
let s3: TestS3Server;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let worker: Awaited<ReturnType<typeof startTrainingWorker>>;
let agent: Awaited<ReturnType<typeof startRemoteAgent>> | undefined;
let store: ArtifactStore;
const dirs = { control: '', agent: '' };
const masterKey = randomBytes(32);
let owner: Awaited<ReturnType<typeof makeUser>>;
let baseId: string;
let datasetId: string;
const REMOTE = 'gpu-joined';
const { waitStatus } = jobProbes(() => t.db);
/** The first test's merged model: the base of the last one. */
let firstMerged: { id: string; jobId: string; location: string };
const h100 = (index: number): GpuInfo => ({ index, name: 'NVIDIA H100 80GB HBM3', uuid: `GPU-joined-${index}`, memoryTotalMiB: 81_559, memoryUsedMiB: 0, utilizationPct: 0, temperatureC: 30, powerW: 70, mig: null });

function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(child);
      else out[child] = createHash('sha256').update(fs.readFileSync(path.join(dir, child))).digest('hex');
    }
  };
  walk('');
  return out;
}

const indexOf = async (key: string) => {
  const index = await readDirectoryIndex(key, store.get(key));
  return Object.fromEntries(index.files.map((f) => [f.path, f.sha256]));
};

beforeAll(async () => {
  [t, s3] = await Promise.all([createTestDatabase('remoteoutputs'), startTestS3Server('enclave-remote-outputs')]);
  dirs.control = tempDir('remote-outputs-control');
  dirs.agent = tempDir('remote-outputs-agent');
  store = new ArtifactStore(s3Backend(s3.settings()), dataKeysOf(t.db, masterKey));
  const s3Env = { ENCLAVE_ARTIFACTS: 's3', ENCLAVE_S3_ENDPOINT: s3.endpoint, ENCLAVE_S3_BUCKET: s3.bucket, ENCLAVE_S3_ACCESS_KEY_ID: 'S3RVER', ENCLAVE_S3_SECRET_ACCESS_KEY: 'S3RVER', ENCLAVE_S3_FORCE_PATH_STYLE: 'true' };
  api = await startApiTestServer({ db: t.db, masterKey, env: { ENCLAVE_DATA_DIR: dirs.control, ...s3Env } });
  owner = await makeUser(t.db, { role: 'engineer' });
  baseId = (await makeHfBase(t.db, dirs.control)).id;
  datasetId = (await makeDataset(t.db, masterKey, dirs.control, owner.id)).id;
  const { token } = await createJoinToken(t.db);
  // The agent's own configuration: its data directory, no artifact store, no master key.
  const env = parseEnv({ ENCLAVE_DATA_DIR: dirs.agent, HOST: '127.0.0.1', ENCLAVE_TRAINER_COMMAND: TRAINER_DOUBLE_COMMAND });
  agent = await startRemoteAgent(env, { joinUrl: api.base, token, nodeName: REMOTE, pollMs: 60_000, heartbeatMs: 60_000, trainerPollMs: 100, inventory: async () => ({ gpus: [h100(0), h100(1)], topology: null, processes: null }) });
  // The worker's host has no GPUs: it places jobs on the joined host.
  worker = await startTrainingWorker(t.db, { masterKey, dataDir: dirs.control, runnerNode: 'control-host', trainer: { python: 'python3', override: TRAINER_DOUBLE_COMMAND }, ...FAST_TRAINING_TIMINGS });
}, 60_000);
afterAll(async () => {
  await agent?.stop();
  await worker?.close();
  await api?.close();
  await queue('training').obliterate({ force: true });
  await closeQueues();
  await closeRedis();
  await closeArtifactBackends();
  await store?.backend.close().catch(() => undefined);
  await Promise.all([t?.drop(), s3?.stop()]);
  for (const d of Object.values(dirs)) if (d) fs.rmSync(d, { recursive: true, force: true });
});

it("a fine-tune on a joined agent: its adapter and merged model reach the store through the control plane, and the versions are registered from there", async () => {
  trainerDoubleKnobs(4, 10);
  const { id } = await createFinetuneJob(t.db, { id: owner.id, role: 'engineer' }, { baseVersionId: baseId, datasetId, gpus: 1, merge: true });
  const done = await waitStatus(id, 'succeeded', 60_000);
  expect(done.nodeName).toBe(REMOTE);
  const [merged] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, done.outputVersionId!));
  const [adapter] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, merged!.parentVersionId!));
  const output = jobWorkspace(dirs.agent, id).output;
  // Locations name the agent's host; the store holds the same files.
  expect(adapter).toMatchObject({ format: 'lora-adapter', location: path.join(output, 'adapter'), artifactKey: `adapters/${id}.dir.json` });
  expect(merged).toMatchObject({ format: 'hf', location: path.join(output, 'merged'), artifactKey: `models/${id}/merged.dir.json` });
  expect(await indexOf(adapter!.artifactKey!)).toEqual(tree(path.join(output, 'adapter')));
  expect(await indexOf(merged!.artifactKey!)).toEqual(tree(path.join(output, 'merged')));
  // Registered from the store: the size from the index, the planner's configuration from the uploaded config.json.
  expect(merged!.config).toEqual(JSON.parse(fs.readFileSync(path.join(output, 'merged', 'config.json'), 'utf8')));
  expect(merged!.sizeBytes).toBe(Object.keys(tree(path.join(output, 'merged'))).reduce((n, f) => n + fs.statSync(path.join(output, 'merged', f)).size, 0));
  firstMerged = { id: merged!.id, jobId: id, location: merged!.location };
  const uploads = await t.db.select().from(auditLog).where(eq(auditLog.action, 'jobs.output_upload'));
  expect(uploads.map((u) => [u.actorLabel, u.target, (u.detail as { key: string }).key]).sort()).toEqual(
    [[`node:${REMOTE}`, id, `adapters/${id}.dir.json`], [`node:${REMOTE}`, id, `models/${id}/merged.dir.json`]].sort(),
  );
}, 90_000);

it('an HF quantization on a joined agent sends its checkpoint; uploads once the job ended, or without a credential, are refused', async () => {
  trainerDoubleKnobs(3, 10);
  const { id } = await createQuantizeJob(t.db, { id: owner.id, role: 'engineer' }, { sourceVersionId: baseId, target: 'w8a8-int8', maxPerplexityDeltaPct: 50 });
  const done = await waitStatus(id, 'succeeded', 60_000);
  const [out] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, done.outputVersionId!));
  expect(out).toMatchObject({ format: 'hf', quantization: 'w8a8-int8', artifactKey: `models/${id}/quantized.dir.json` });
  expect(await indexOf(out!.artifactKey!)).toEqual(tree(jobWorkspace(dirs.agent, id).output));

  const credential = (JSON.parse(fs.readFileSync(path.join(dirs.agent, 'agent-credential.json'), 'utf8')) as { credential: string }).credential;
  const post = (url: string, body: string) => api.request(url, { method: 'POST', body, headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/octet-stream' } });
  // The job is over: no attempt of it takes outputs any more.
  expect((await post(`/api/agent/jobs/${id}/outputs/quantized/file?attempt=${done.attempts}&path=x.json`, '{}')).status).toBe(409);
  expect((await post(`/api/agent/jobs/${id}/outputs/quantized`, JSON.stringify({ attempt: done.attempts, files: [] }))).status).toBe(409);
  expect((await api.request(`/api/agent/jobs/${id}/outputs/quantized/file?attempt=1&path=x.json`, { method: 'POST', body: '{}' })).status).toBe(401);
}, 90_000);

it("a fine-tune on a joined agent whose base (a merged model made earlier) is not on its disk fetches the base from the control plane's store", async () => {
  trainerDoubleKnobs(3, 10);
  // The agent's host lost the earlier output: keep a copy elsewhere to compare with.
  const copy = path.join(dirs.control, 'merged-copy');
  fs.renameSync(firstMerged.location, copy);
  const { id } = await createFinetuneJob(t.db, { id: owner.id, role: 'engineer' }, { baseVersionId: firstMerged.id, datasetId, gpus: 1, merge: true });
  const done = await waitStatus(id, 'succeeded', 60_000);
  expect(done.nodeName).toBe(REMOTE);
  const cached = cachedModelPath(dirs.agent, `models/${firstMerged.jobId}/merged`);
  expect(tree(cached)).toEqual(tree(copy));
  // The double's merged output carries its base's config.json: the trainer read the fetched copy.
  const [merged] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, done.outputVersionId!));
  expect(JSON.parse(fs.readFileSync(path.join(merged!.location, 'config.json'), 'utf8'))).toEqual(JSON.parse(fs.readFileSync(path.join(copy, 'config.json'), 'utf8')));
  const downloads = await t.db.select().from(auditLog).where(eq(auditLog.action, 'models.download'));
  expect(downloads.filter((d) => d.target === id).map((d) => (d.detail as { key: string }).key)).toContain(`models/${firstMerged.jobId}/merged.dir.json`);
}, 90_000);
