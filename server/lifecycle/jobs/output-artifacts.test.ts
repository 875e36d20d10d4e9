import { fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactStore, cachedModelPath, closeArtifactBackends, dataKeysOf, s3Backend } from '../../artifacts';
import { closeQueues, queue } from '../../core/queues';
import { closeRedis } from '../../core/redis';
import { modelVersions } from '../../db/schema';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../../testing/database';
import { makeDataset, makeDeployment, makeNode, makeReplica, makeUser } from '../../testing/factories';
import { startTestS3Server, type TestS3Server } from '../../testing/s3-server';
import { startTrainingWorker } from '../../../workers/training';
import { createFinetuneJob, createQuantizeJob } from './create';
import { loadModelConfig } from '../../gpu/placement/config-file';
import { FAST_TRAINING_TIMINGS, jobProbes, makeHfBase, tempDir, TRAINER_DOUBLE_COMMAND, trainerDoubleKnobs } from './testing/fixtures';
import { jobWorkspace } from './workspace';

/**
 * Fine-tune and HF quantization outputs in the shared artifact store (issue 14, part 2), with every real
 * piece but the trainer (the double, spawned detached as lora_sft.py / quantize.py would be): the worker
 * seals the adapter and the merged model into S3 (s3rver on loopback) one object per file before their
 * versions exist; a quantization on a worker whose disk lacks its merged source fetches it from the store;
 * and an agent in another process, with its own data directory, gets the merged model and the adapter of a
 * vLLM deployment into its model cache, file for file.
 */
process.env.REDIS_PREFIX = testRedisPrefix('outartifacts');
let t: TestDatabase;
let s3: TestS3Server;
let store: ArtifactStore;
let worker: Awaited<ReturnType<typeof startTrainingWorker>> | undefined;
const masterKey = randomBytes(32);
const dirs = { worker: '', agent: '', moved: '' };
let owner: Awaited<ReturnType<typeof makeUser>>;
let baseId: string;
let datasetId: string;
const { waitStatus } = jobProbes(() => t.db);

/** What the fine-tune produced: the versions, and copies of their directories kept outside every data directory. */
let ft: { jobId: string; adapter: typeof modelVersions.$inferSelect; merged: typeof modelVersions.$inferSelect; adapterCopy: string; mergedCopy: string };

const s3Env = () => ({
  ENCLAVE_ARTIFACTS: 's3',
  ENCLAVE_S3_ENDPOINT: s3.endpoint,
  ENCLAVE_S3_BUCKET: s3.bucket,
  ENCLAVE_S3_ACCESS_KEY_ID: 'S3RVER',
  ENCLAVE_S3_SECRET_ACCESS_KEY: 'S3RVER',
  ENCLAVE_S3_FORCE_PATH_STYLE: 'true',
});

function hashes(dir: string): Record<string, string> {
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

beforeAll(async () => {
  [t, s3] = await Promise.all([createTestDatabase('outartifacts'), startTestS3Server('enclave-outputs')]);
  for (const k of Object.keys(dirs) as (keyof typeof dirs)[]) dirs[k] = tempDir(`out-${k}`);
  store = new ArtifactStore(s3Backend(s3.settings()), dataKeysOf(t.db, masterKey));
  owner = await makeUser(t.db, { role: 'engineer' });
  await makeNode(t.db, { name: 'gpu-out', gpuCount: 2 });
  baseId = (await makeHfBase(t.db, dirs.worker)).id;
  datasetId = (await makeDataset(t.db, masterKey, dirs.worker, owner.id)).id;
  worker = await startTrainingWorker(t.db, {
    masterKey,
    dataDir: dirs.worker,
    runnerNode: 'gpu-out',
    trainer: { python: 'python3', override: TRAINER_DOUBLE_COMMAND },
    artifacts: store,
    ...FAST_TRAINING_TIMINGS,
  });
});
afterAll(async () => {
  await worker?.close();
  await queue('training').obliterate({ force: true });
  await closeQueues();
  await closeRedis();
  await closeArtifactBackends();
  await store?.backend.close().catch(() => undefined);
  await Promise.all([t?.drop(), s3?.stop()]);
  for (const d of Object.values(dirs)) if (d) fs.rmSync(d, { recursive: true, force: true });
});

const objectsUnder = async (prefix: string) => {
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  return keys.sort();
};

describe('fine-tune and quantization outputs in the artifact store', () => {
  it('a fine-tune with merge seals its adapter and merged model into S3, one object per file, and the versions record them', async () => {
    trainerDoubleKnobs(4, 5);
    const { id } = await createFinetuneJob(t.db, { id: owner.id, role: 'engineer' }, { baseVersionId: baseId, datasetId, gpus: 1, merge: true });
    const done = await waitStatus(id, 'succeeded', 60_000);
    const [merged] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, done.outputVersionId!));
    const [adapter] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, merged!.parentVersionId!));
    expect(adapter).toMatchObject({ format: 'lora-adapter', artifactKey: `adapters/${id}.dir.json` });
    expect(merged).toMatchObject({ format: 'hf', artifactKey: `models/${id}/merged.dir.json`, config: JSON.parse(fs.readFileSync(path.join(merged!.location, 'config.json'), 'utf8')) });
    expect(adapter!.config).toBeNull();
    expect(done.result).toMatchObject({ adapterArtifact: adapter!.artifactKey, mergedArtifact: merged!.artifactKey });

    // Every file of each directory is an object of its own under the version's prefix.
    expect(await objectsUnder(`adapters/${id}/`)).toEqual(Object.keys(hashes(adapter!.location)).map((f) => `adapters/${id}/${f}`).sort());
    expect(await objectsUnder(`models/${id}/merged/`)).toEqual(Object.keys(hashes(merged!.location)).map((f) => `models/${id}/merged/${f}`).sort());
    // At rest: ciphertext (the double's README says what it is in plain words; the object does not).
    const readme = fs.readFileSync(path.join(adapter!.location, 'README.md'));
    const atRest = fs.readFileSync(s3.objectFile(`adapters/${id}/README.md`));
    expect(atRest.includes(readme.subarray(0, 24))).toBe(false);

    // The worker's host goes away: keep copies outside every data directory; nothing stays at `location`.
    const adapterCopy = path.join(dirs.moved, 'adapter');
    const mergedCopy = path.join(dirs.moved, 'merged');
    fs.renameSync(adapter!.location, adapterCopy);
    fs.renameSync(merged!.location, mergedCopy);
    ft = { jobId: id, adapter: adapter!, merged: merged!, adapterCopy, mergedCopy };
  }, 90_000);

  it('an HF quantization whose merged source is not on the worker fetches it from the store, and seals its own output', async () => {
    trainerDoubleKnobs(3, 5);
    // The API sizes the job from the source's configuration: recorded with the version, not read from the (absent) files.
    expect(fs.existsSync(ft.merged.location)).toBe(false);
    expect(loadModelConfig(ft.merged)).toMatchObject({ num_hidden_layers: 32 });
    const job = await createQuantizeJob(t.db, { id: owner.id, role: 'engineer' }, { sourceVersionId: ft.merged.id, target: 'w8a8-int8', maxPerplexityDeltaPct: 50 });
    const done = await waitStatus(job.id, 'succeeded', 60_000);
    // The source came through the worker's model cache, byte for byte.
    const cached = cachedModelPath(dirs.worker, `models/${ft.jobId}/merged`);
    expect(hashes(cached)).toEqual(hashes(ft.mergedCopy));
    const [out] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, done.outputVersionId!));
    expect(out).toMatchObject({ format: 'hf', quantization: 'w8a8-int8', artifactKey: `models/${job.id}/quantized.dir.json` });
    expect(await objectsUnder(`models/${job.id}/quantized/`)).toEqual(Object.keys(hashes(out!.location)).map((f) => `models/${job.id}/quantized/${f}`).sort());
    expect(fs.existsSync(path.join(jobWorkspace(dirs.worker, job.id).output, 'config.json'))).toBe(true);
  }, 90_000);

  it('an agent in another process with its own data directory gets the merged model and the adapter of a vLLM deployment into its cache', async () => {
    const spec = { engine: 'vllm', loraAdapters: [{ name: 'support-ft', path: ft.adapter.location }, { name: 'by-path', path: '/models/not-in-the-store' }] };
    const { deployment } = await makeDeployment(t.db, { modelVersionId: ft.merged.id, engine: 'vllm', status: 'pending', spec });
    const replica = await makeReplica(t.db, deployment.id, { nodeName: 'other-host', status: 'stopped' });

    const child = fork(fileURLToPath(new URL('../../artifacts/testing/model-fetch-process.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...s3Env(), DATABASE_URL: t.url, ENCLAVE_DATA_DIR: dirs.agent, TEST_MASTER_KEY_HEX: masterKey.toString('hex'), TEST_NODE: 'other-host', LOG_LEVEL: 'error' },
    });
    type Prepared = { replicaId: string; modelLocation: string; model: Record<string, string>; adapters: { name: string; path: string; files: Record<string, string> }[] };
    const answer = await new Promise<{ prepared?: Prepared[]; error?: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { prepared?: Prepared[]; error?: string }));
      child.once('exit', (code) => reject(new Error(`the agent process exited (${code}) without an answer`)));
    });
    expect(answer.error).toBeUndefined();
    const got = answer.prepared!.find((p) => p.replicaId === replica.id)!;
    expect(got.modelLocation).toBe(cachedModelPath(dirs.agent, `models/${ft.jobId}/merged`));
    expect(got.model).toEqual(hashes(ft.mergedCopy));
    // The adapter that is a version with an artifact is fetched; one named by a path only is left as given.
    expect(got.adapters[0]).toEqual({ name: 'support-ft', path: cachedModelPath(dirs.agent, `adapters/${ft.jobId}`), files: hashes(ft.adapterCopy) });
    expect(got.adapters[1]).toEqual({ name: 'by-path', path: '/models/not-in-the-store', files: {} });
  }, 90_000);
});
