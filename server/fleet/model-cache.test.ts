import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactStore, cachedModelPath, closeArtifactBackends, dataKeysOf, s3Backend } from '../artifacts';
import { parseEnv } from '../core/env';
import { closeRedis } from '../core/redis';
import { auditLog, deploymentReplicas, jobs, modelVersions } from '../db/schema';
import { TEST_MODEL_PATH } from '../engines/llamacpp/test-support';
import { replicaSecret } from '../engines/replica-secret';
import { writeDatasetPart } from '../lifecycle/datasets/store';
import { runGgufQuantize } from '../lifecycle/jobs/quantize-gguf';
import { storeOutputFile } from '../lifecycle/jobs/output-artifact';
import { isAlive } from '../process/detached-process';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { makeDeployment, makeJob, makeModelVersion, makeReplica } from '../testing/factories';
import { startTestS3Server, type TestS3Server } from '../testing/s3-server';
import { until } from '../testing/until';
import { startApiTestServer } from '../api/testing/api-test-server';
import { startAgent, type AgentRole } from './agent';
import { createJoinToken } from './nodes/join-tokens';
import { startRemoteAgent } from './nodes/remote-agent';
import { modelPreparer } from './model-cache';
import { listAssignments, type Assignment } from './nodes/assignments';

/**
 * Model outputs in the shared artifact store, end to end with real pieces: a real GGUF quantization of
 * stories260K on the "worker" seals its output into S3 (s3rver on loopback) and records the key on the
 * version; an agent on a "second host" (a data directory of its own, no copy of the file) fetches it into
 * its model cache, byte for byte, and starts the llamacpp engine from there.
 */
process.env.REDIS_PREFIX = testRedisPrefix('modelcache');
let t: TestDatabase;
let s3: TestS3Server;
let store: ArtifactStore;
const dirs: Record<'worker' | 'second' | 'agent' | 'reference', string> = { worker: '', second: '', agent: '', reference: '' };
const masterKey = randomBytes(32);
let agent: AgentRole | undefined;

/** What the quantization produced, found by the first test. */
let output: { versionId: string; key: string; reference: string; location: string };

beforeAll(async () => {
  [t, s3] = await Promise.all([createTestDatabase('modelcache'), startTestS3Server('enclave-models')]);
  for (const k of Object.keys(dirs) as (keyof typeof dirs)[]) dirs[k] = fs.mkdtempSync(path.join(os.tmpdir(), `enclave-mc-${k}-`));
  store = new ArtifactStore(s3Backend(s3.settings()), dataKeysOf(t.db, masterKey));
});
afterAll(async () => {
  await agent?.stop().catch(() => undefined);
  await closeRedis();
  await closeArtifactBackends();
  await store?.backend.close().catch(() => undefined);
  await Promise.all([t?.drop(), s3?.stop()]);
  for (const d of Object.values(dirs)) if (d) fs.rmSync(d, { recursive: true, force: true });
});

/** The S3 settings every role of this "install" runs with. */
const s3Env = () => ({
  ENCLAVE_ARTIFACTS: 's3',
  ENCLAVE_S3_ENDPOINT: s3.endpoint,
  ENCLAVE_S3_BUCKET: s3.bucket,
  ENCLAVE_S3_ACCESS_KEY_ID: 'S3RVER',
  ENCLAVE_S3_SECRET_ACCESS_KEY: 'S3RVER',
  ENCLAVE_S3_FORCE_PATH_STYLE: 'true',
});

/** A completion from a ready replica, with its secret. */
async function complete(url: string, replicaId: string, model: string): Promise<string> {
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${replicaSecret(masterKey, replicaId)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, prompt: 'Once upon a time', max_tokens: 8, temperature: 0 }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { choices: { text: string }[] }).choices[0]!.text;
}

const replicaReady = (id: string) =>
  until(
    'replica ready',
    async () => {
      const [r] = await t.db.select().from(deploymentReplicas).where(eq(deploymentReplicas.id, id));
      if (r!.status === 'failed') throw new Error(`replica failed: ${r!.lastError}`);
      return r!.status === 'ready' && r!;
    },
    90_000,
  );

const objectGets = (key: string) => s3.requests.filter((r) => r.method === 'GET' && r.url.includes(key)).length;

async function assignmentOn(node: string, versionId: string, status: 'starting' | 'stopped'): Promise<Assignment> {
  const spec = { engine: 'llamacpp', llamacpp: { threads: 1, context: 256, sequences: 1 } };
  const { deployment } = await makeDeployment(t.db, { modelVersionId: versionId, status: 'pending', spec });
  const replica = await makeReplica(t.db, deployment.id, { nodeName: node, status });
  return (await listAssignments(t.db, node, masterKey)).find((a) => a.replicaId === replica.id)!;
}

describe('model outputs in the artifact store', () => {
  it('a GGUF quantization seals its output into S3 before registering the version, which records the key', async () => {
    const { version } = await makeModelVersion(t.db, { location: TEST_MODEL_PATH, format: 'gguf' });
    const job = await makeJob(t.db, { kind: 'quantize', status: 'queued', baseVersionId: version.id, spec: { sourceVersionId: version.id, target: 'q8_0', maxPerplexityDeltaPct: 5 } });
    await runGgufQuantize({ db: t.db, masterKey, dataDir: dirs.worker, runnerNode: 'worker-host', writeDataset: writeDatasetPart, artifacts: store }, job);

    const [done] = await t.db.select().from(jobs).where(eq(jobs.id, job.id));
    expect([done!.status, done!.error]).toEqual(['succeeded', null]);
    const [out] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, done!.outputVersionId!));
    const key = `models/${job.id}/${job.id.slice(0, 8)}-q8_0.gguf`;
    expect(out!.artifactKey).toBe(key);
    // The worker keeps its file: engines on its own host start from it without a fetch.
    expect(fs.readFileSync(out!.location).subarray(0, 4).toString('latin1')).toBe('GGUF');
    expect(out!.sizeBytes).toBe(fs.statSync(out!.location).size);
    expect(out!.sha256).toMatch(/^[0-9a-f]{64}$/);

    // At rest in the bucket: ciphertext, not a GGUF file (no magic at offset 0, not the model's bytes).
    const atRest = fs.readFileSync(s3.objectFile(key));
    expect(atRest.subarray(0, 4).toString('latin1')).not.toBe('GGUF');
    expect(atRest.includes(fs.readFileSync(out!.location).subarray(4096, 4096 + 64))).toBe(false);
    expect(await store.head(key)).toMatchObject({ size: out!.sizeBytes });

    // The worker host goes away: keep a reference copy outside every data directory, and no file at `location`.
    const reference = path.join(dirs.reference, 'reference.gguf');
    fs.renameSync(out!.location, reference);
    output = { versionId: out!.id, key, reference, location: out!.location };
  }, 180_000);

  it('a second host without the file fetches it into its model cache, byte-identical, and reuses the cached copy', async () => {
    const a = await assignmentOn('cache-host', output.versionId, 'stopped');
    expect(a.modelLocation).toBe(output.location);
    expect(a.modelArtifact).toMatchObject({ key: output.key, sizeBytes: fs.statSync(output.reference).size });
    const prepare = modelPreparer(dirs.second, () => store);

    const before = objectGets(output.key);
    const local = await prepare(a);
    const cached = cachedModelPath(dirs.second, output.key);
    expect(local.modelLocation).toBe(cached);
    expect(cached.startsWith(path.join(dirs.second, 'model-cache') + path.sep)).toBe(true);
    expect(fs.readFileSync(cached).equals(fs.readFileSync(output.reference))).toBe(true);
    expect(fs.readdirSync(path.dirname(cached))).toEqual([path.basename(cached)]);
    const fetchGets = objectGets(output.key) - before;
    expect(fetchGets).toBeGreaterThan(0);

    // Again, and twice at once: the cached file is used, nothing is read from the store.
    const again = await Promise.all([prepare(a), prepare(a)]);
    expect(again.map((x) => x.modelLocation)).toEqual([cached, cached]);
    expect(objectGets(output.key) - before).toBe(fetchGets);

    // A host that has the file at `location` (the worker's own, or a shared mount) uses it as it is.
    const onDisk = { ...a, modelLocation: output.reference };
    expect((await prepare(onDisk)).modelLocation).toBe(output.reference);
    // A version without an artifact (registered by path) is left to the engine, as before.
    const byPath = { ...a, modelArtifact: undefined };
    expect((await prepare(byPath)).modelLocation).toBe(output.location);
  }, 60_000);

  it('an altered object or a size that does not match the version fails the fetch and leaves no file', async () => {
    const a = await assignmentOn('cache-host', output.versionId, 'stopped');
    const fresh = fs.mkdtempSync(path.join(dirs.second, 'fresh-'));
    const prepare = modelPreparer(fresh, () => store);
    const cacheDir = path.dirname(cachedModelPath(fresh, output.key));

    const file = s3.objectFile(output.key);
    const original = fs.readFileSync(file);
    const altered = Buffer.from(original);
    altered[Math.floor(altered.length / 2)]! ^= 0xff;
    fs.writeFileSync(file, altered);
    try {
      await expect(prepare(a)).rejects.toThrow(/CORRUPT|authenticat|altered/i);
    } finally {
      fs.writeFileSync(file, original);
    }
    expect(fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []).toEqual([]);

    await expect(prepare({ ...a, modelArtifact: { ...a.modelArtifact!, sizeBytes: a.modelArtifact!.sizeBytes! + 1 } })).rejects.toThrow(/the version records/);
    await expect(prepare({ ...a, modelArtifact: { ...a.modelArtifact!, sha256: '0'.repeat(64) } })).rejects.toThrow(/SHA-256/);
    expect(fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []).toEqual([]);
  }, 60_000);

  it('a quantization on a worker without its source file fetches the source from the store into its own cache', async () => {
    // A source registered by another host's job: its file is not here, its object is in the store.
    const sourceJob = randomUUID();
    const key = await storeOutputFile(store, sourceJob, TEST_MODEL_PATH);
    const bytes = fs.readFileSync(TEST_MODEL_PATH);
    const { version } = await makeModelVersion(t.db, { location: '/elsewhere/other-worker/stories260K.gguf', format: 'gguf', artifactKey: key, sizeBytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    const job = await makeJob(t.db, { kind: 'quantize', status: 'queued', baseVersionId: version.id, spec: { sourceVersionId: version.id, target: 'q8_0', maxPerplexityDeltaPct: 5 } });
    const workerDir = fs.mkdtempSync(path.join(dirs.second, 'worker2-'));
    await runGgufQuantize({ db: t.db, masterKey, dataDir: workerDir, runnerNode: 'worker-2', writeDataset: writeDatasetPart, artifacts: store }, job);

    const [done] = await t.db.select().from(jobs).where(eq(jobs.id, job.id));
    expect([done!.status, done!.error]).toEqual(['succeeded', null]);
    expect(fs.readFileSync(cachedModelPath(workerDir, key)).equals(bytes)).toBe(true);
    const [out] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, done!.outputVersionId!));
    expect(out!.artifactKey).toBe(`models/${job.id}/${job.id.slice(0, 8)}-q8_0.gguf`);
  }, 180_000);

  it("an agent on the second host starts the llamacpp engine on the cached file, and it answers a completion", async () => {
    const env = parseEnv({ ENCLAVE_DATA_DIR: dirs.agent, ENCLAVE_LLAMACPP_CONTEXT: '256', ENCLAVE_LLAMACPP_SEQUENCES: '1', ...s3Env() });
    const a = await assignmentOn('second-host', output.versionId, 'starting');
    agent = await startAgent(t.db, env, { masterKey, nodeName: 'second-host', pollMs: 200, heartbeatMs: 60_000, healthEveryMs: 1_000 });
    const ready = await replicaReady(a.replicaId);
    const cached = cachedModelPath(dirs.agent, output.key);
    expect(fs.readFileSync(cached).equals(fs.readFileSync(output.reference))).toBe(true);
    expect(fs.readFileSync(`/proc/${ready.pid}/cmdline`, 'utf8')).toContain(cached);

    expect((await complete(ready.url, a.replicaId, a.servedName)).length).toBeGreaterThan(0);

    const pid = ready.pid!;
    await agent.stop();
    agent = undefined;
    await until('engine gone', async () => !isAlive(pid));
  }, 150_000);

  it('a joined agent (no master key, no database) gets the model from the control plane, only for its own replicas', async () => {
    const api = await startApiTestServer({ db: t.db, masterKey, env: { ENCLAVE_DATA_DIR: dirs.second, ...s3Env() } });
    const remoteDir = fs.mkdtempSync(path.join(dirs.second, 'remote-'));
    try {
      const { token } = await createJoinToken(t.db);
      const env = parseEnv({ ENCLAVE_DATA_DIR: remoteDir, ENCLAVE_ENGINE_HOST: '127.0.0.1', ENCLAVE_LLAMACPP_CONTEXT: '256', ENCLAVE_LLAMACPP_SEQUENCES: '1' });
      const remote = await startRemoteAgent(env, { joinUrl: api.base, token, nodeName: 'remote-host', pollMs: 200, heartbeatMs: 60_000, inventory: async () => ({ gpus: [], topology: null, processes: null }) });
      try {
        const a = await assignmentOn('remote-host', output.versionId, 'starting');
        const ready = await replicaReady(a.replicaId);
        const cached = cachedModelPath(remoteDir, output.key);
        expect(fs.readFileSync(cached).equals(fs.readFileSync(output.reference))).toBe(true);
        expect(fs.readFileSync(`/proc/${ready.pid}/cmdline`, 'utf8')).toContain(cached);
        expect((await complete(ready.url, a.replicaId, a.servedName)).length).toBeGreaterThan(0);

        // Its credential reaches its own replicas' models only, and the download is on the audit chain.
        const credential = (JSON.parse(fs.readFileSync(path.join(remoteDir, 'agent-credential.json'), 'utf8')) as { credential: string }).credential;
        const other = await assignmentOn('cache-host', output.versionId, 'stopped');
        const get = (id: string, auth?: string) => api.request(`/api/agent/replicas/${id}/model`, auth ? { headers: { authorization: `Bearer ${auth}` } } : {});
        expect((await get(other.replicaId, credential)).status).toBe(404);
        expect((await get(a.replicaId)).status).toBe(401);
        const own = await get(a.replicaId, credential);
        expect(own.status).toBe(200);
        expect(Buffer.from(await own.arrayBuffer()).equals(fs.readFileSync(output.reference))).toBe(true);
        const audited = await t.db.select().from(auditLog).where(eq(auditLog.action, 'models.download'));
        expect(audited.map((r) => [r.actorLabel, r.target])).toContainEqual([`node:remote-host`, a.replicaId]);
      } finally {
        await remote.stop();
      }
    } finally {
      await api.close();
    }
  }, 150_000);
});
