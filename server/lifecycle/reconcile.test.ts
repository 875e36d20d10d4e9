import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { and, eq, isNull, ne } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocations, deploymentEvents, deploymentReplicas, deployments } from '../db/schema';
import { closeQueues, queue } from '../core/queues';
import { countCompletedJobs } from '../testing/completed-jobs';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { makeNode } from '../testing/factories';
import { until } from '../testing/until';
import { randomBytes } from 'node:crypto';
import { reconcileOptions, startDeployWorker } from '../../workers/deploy';
import { storeUpstreamKey } from '../engines/upstream/keys';
import { registerVersion } from './catalog';
import { createDeployment, scaleDeployment, startDeployment, stopDeployment } from './deployments';
import { reconcileDeployment } from './reconcile';
import { claimForDeployment } from '../gpu/placement/model-config';

const masterKey = randomBytes(32);

process.env.REDIS_PREFIX = testRedisPrefix('reconcile');
// The upstream doubles below are on 127.0.0.1, which the outbound policy refuses unless the admin allows it.
process.env.ENCLAVE_OUTBOUND_ALLOW = '127.0.0.1';
const GiB = 1024 ** 3;
// The estimator's per-GPU claim for a 40 GiB model: split evenly across tensor-parallel GPUs.
let opts: ReturnType<typeof reconcileOptions>;
const testOptions = { claimFor: async () => (tp: number) => (40 * GiB) / tp, backoff: { baseMs: 200, maxMs: 200 }, giveUpAfter: 2 };

let t: TestDatabase;
let hfVersion: string;
let ggufVersion: string;
let dir: string;
beforeAll(async () => {
  t = await createTestDatabase('reconcile');
  opts = reconcileOptions(t.db, testOptions);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-reconcile-'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ num_hidden_layers: 32, num_attention_heads: 32, hidden_size: 4096, torch_dtype: 'bfloat16' }));
  hfVersion = (await registerVersion(t.db, { modelName: 'llama-like', format: 'hf', location: dir })).id;
  ggufVersion = (await registerVersion(t.db, { modelName: 'stories', format: 'gguf', location: path.resolve(__dirname, '../../models/stories260K.gguf') })).id;
  await makeNode(t.db, { name: 'gpu-a', gpuCount: 2, gpuName: 'A100', memoryTotalMiB: 81920 });
  await makeNode(t.db, { name: 'cpu-1', labels: { 'enclave.io/engines': 'llamacpp' } });
});
afterAll(async () => {
  await queue('deploy').obliterate({ force: true });
  await closeQueues();
  await t?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const activeReplicas = (deploymentId: string) =>
  t.db.select().from(deploymentReplicas).where(and(eq(deploymentReplicas.deploymentId, deploymentId), ne(deploymentReplicas.status, 'stopped')));
const activeAllocations = () => t.db.select().from(allocations).where(isNull(allocations.releasedAt));
const events = async (deploymentId: string) =>
  (await t.db.select().from(deploymentEvents).where(eq(deploymentEvents.deploymentId, deploymentId)).orderBy(deploymentEvents.id)).map((e) => `${e.kind}: ${e.message}`);
const vllm = (name: string, replicas = 1) => createDeployment(t.db, null, { name, modelVersionId: hfVersion, spec: { engine: 'vllm', tp: 1, replicas } });
async function stopAll() {
  for (const d of await t.db.select().from(deployments)) await stopDeployment(t.db, null, d.id).then(() => reconcileDeployment(t.db, d.id, opts));
}

describe('placement', () => {
  it('a model the estimator cannot size (an architecture it was not taught) is no placement, with the estimator\'s reason', async () => {
    const mambaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-reconcile-mamba-'));
    try {
      fs.writeFileSync(path.join(mambaDir, 'config.json'), JSON.stringify({ architectures: ['MambaForCausalLM'], hidden_size: 2560, num_hidden_layers: 64, vocab_size: 50280, torch_dtype: 'float16' }));
      const version = (await registerVersion(t.db, { modelName: 'mamba', format: 'hf', location: mambaDir })).id;
      const { id } = await createDeployment(t.db, null, { name: 'mamba', modelVersionId: version, spec: { engine: 'vllm', tp: 1, replicas: 1 } });
      // The real claim (the estimator on the version's config.json), as the deploy worker uses it.
      await reconcileDeployment(t.db, id, reconcileOptions(t.db, { ...testOptions, claimFor: claimForDeployment(t.db) }));
      expect(await activeReplicas(id)).toEqual([]);
      expect((await events(id)).filter((e) => e.startsWith('error: no placement for 1 replica(s): ') && e.includes('MambaForCausalLM'))).toHaveLength(1);
      await stopDeployment(t.db, null, id).then(() => reconcileDeployment(t.db, id, opts));
    } finally {
      fs.rmSync(mambaDir, { recursive: true, force: true });
    }
  });

  it('places a CPU replica on a healthy node without GPUs, once', async () => {
    const { id } = await createDeployment(t.db, null, { name: 'stories', modelVersionId: ggufVersion, spec: { engine: 'llamacpp', replicas: 1 } });
    await reconcileDeployment(t.db, id, opts);
    await reconcileDeployment(t.db, id, opts);
    const reps = await activeReplicas(id);
    expect(reps.map((r) => [r.nodeName, r.gpuIndices, r.status, r.url])).toEqual([['cpu-1', [], 'starting', '']]);
    expect((await t.db.select().from(deployments).where(eq(deployments.id, id)))[0]!.status).toBe('starting');
    await stopAll();
  });

  it('never over-commits a GPU under concurrent reconciles, and says why the rest do not fit', async () => {
    const ids = await Promise.all(['c1', 'c2', 'c3', 'c4'].map((n) => vllm(n).then((r) => r.id)));
    await Promise.all(ids.map((id) => reconcileDeployment(t.db, id, opts)));
    const allocs = await activeAllocations();
    expect(allocs.map((a) => a.gpuIndex).sort()).toEqual([0, 1]);
    for (const a of allocs) expect(a.memoryBytes).toBe(40 * GiB);
    const placed = (await Promise.all(ids.map(activeReplicas))).flat();
    expect(placed).toHaveLength(2);
    // Each replica's row and allocation agree.
    for (const r of placed) expect(allocs.filter((a) => a.holderId === r.id).map((a) => a.gpuIndex)).toEqual(r.gpuIndices);
    const unplaced = ids.filter((id) => !placed.some((r) => r.deploymentId === id));
    for (const id of unplaced) {
      expect((await events(id)).some((e) => e.startsWith('error: no placement for 1 replica(s): ') && e.includes('gpu-a'))).toBe(true);
      expect((await t.db.select().from(deployments).where(eq(deployments.id, id)))[0]!.status).toBe('pending');
    }
    await reconcileDeployment(t.db, unplaced[0]!, opts);
    expect((await events(unplaced[0]!)).filter((e) => e.startsWith('error: no placement'))).toHaveLength(1);
    await stopAll();
    expect(await activeAllocations()).toEqual([]);
  });

  it('scales up and down, stopping the least useful replica and releasing its GPUs', async () => {
    const { id } = await vllm('scaler', 1);
    await reconcileDeployment(t.db, id, opts);
    await scaleDeployment(t.db, null, id, 2);
    await reconcileDeployment(t.db, id, opts);
    const two = await activeReplicas(id);
    expect(two.map((r) => r.gpuIndices![0]).sort()).toEqual([0, 1]);
    await t.db.update(deploymentReplicas).set({ status: 'ready' }).where(eq(deploymentReplicas.id, two[0]!.id));
    await scaleDeployment(t.db, null, id, 1);
    await reconcileDeployment(t.db, id, opts);
    const one = await activeReplicas(id);
    expect(one.map((r) => r.id)).toEqual([two[0]!.id]);
    expect((await activeAllocations()).map((a) => a.holderId)).toEqual([two[0]!.id]);
    expect((await t.db.select().from(deployments).where(eq(deployments.id, id)))[0]!.status).toBe('ready');
    await stopAll();
  });
});

/** Time passing IS what a restart backoff is about: this sleeps past the test's backoff (a fixed 200 ms). */
const waitOutBackoff = () => new Promise((r) => setTimeout(r, testOptions.backoff.maxMs + 50));

describe('failures', () => {
  it('releases a failed replica, restarts it after the backoff, and gives up after repeated failures', async () => {
    const { id } = await vllm('crashy');
    await reconcileDeployment(t.db, id, opts);
    const [replica] = await activeReplicas(id);
    const fail = () => t.db.update(deploymentReplicas).set({ status: 'failed', lastError: 'CUDA out of memory', updatedAt: new Date() }).where(eq(deploymentReplicas.id, replica!.id));
    await fail();
    await reconcileDeployment(t.db, id, opts);
    expect(await activeAllocations()).toEqual([]);
    expect((await activeReplicas(id))[0]!.status).toBe('failed');
    expect(await events(id)).toContain(`error: replica ${replica!.id.slice(0, 8)} failed: CUDA out of memory`);
    await reconcileDeployment(t.db, id, opts);
    expect((await activeReplicas(id))[0]!.status).toBe('failed');

    for (let restart = 1; restart <= 2; restart++) {
      await waitOutBackoff();
      await reconcileDeployment(t.db, id, opts);
      const [again] = await activeReplicas(id);
      expect([again!.id, again!.status, again!.restarts]).toEqual([replica!.id, 'starting', restart]);
      expect((await activeAllocations()).map((a) => a.holderId)).toEqual([replica!.id]);
      await fail();
      await reconcileDeployment(t.db, id, opts);
    }
    await waitOutBackoff();
    await reconcileDeployment(t.db, id, opts);
    const [given] = await activeReplicas(id);
    expect([given!.status, given!.nodeName]).toEqual(['failed', null]);
    expect((await t.db.select().from(deployments).where(eq(deployments.id, id)))[0]!.status).toBe('failed');
    const log = await events(id);
    expect(log.filter((e) => e.startsWith('restart:'))).toHaveLength(2);
    expect(log.some((e) => e.includes('given up after 2 restarts') && e.includes('CUDA out of memory'))).toBe(true);

    await startDeployment(t.db, null, id);
    await reconcileDeployment(t.db, id, opts);
    const fresh = await activeReplicas(id);
    expect(fresh.map((r) => [r.status, r.restarts])).toEqual([['starting', 0]]);
    expect(fresh[0]!.id).not.toBe(replica!.id);
    await stopAll();
  });

  it('stop releases everything and start places again', async () => {
    const { id } = await vllm('stopper', 2);
    await reconcileDeployment(t.db, id, opts);
    expect(await activeAllocations()).toHaveLength(2);
    await stopDeployment(t.db, null, id);
    expect(await activeAllocations()).toHaveLength(0);
    await reconcileDeployment(t.db, id, opts);
    expect(await activeReplicas(id)).toHaveLength(0);
    await startDeployment(t.db, null, id);
    await reconcileDeployment(t.db, id, opts);
    expect(await activeReplicas(id)).toHaveLength(2);
    await stopAll();
  });
});

describe('upstream', () => {
  it('creates one replica at the upstream URL and marks it ready once the endpoint answers to its sealed key', async () => {
    let up = false;
    // A double of an external OpenAI-compatible API that wants its key.
    const server = http.createServer((req, res) => {
      if (!up) return void res.writeHead(503).end();
      if (req.headers.authorization !== 'Bearer upstream-secret') return void res.writeHead(401).end();
      if (req.url === '/v1/models') res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[{"id":"gpt-remote"}]}');
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const { id } = await createDeployment(t.db, null, { name: 'ext', spec: { engine: 'upstream', upstream: { url, model: 'gpt-remote' } } });
      await storeUpstreamKey(t.db, masterKey, id, 'upstream-secret');
      const opts = reconcileOptions(t.db, { ...testOptions, masterKey });
      await reconcileDeployment(t.db, id, opts);
      expect((await activeReplicas(id)).map((r) => [r.url, r.status])).toEqual([[url, 'starting']]);
      up = true;
      await reconcileDeployment(t.db, id, opts);
      expect((await activeReplicas(id)).map((r) => r.status)).toEqual(['ready']);
      expect((await t.db.select().from(deployments).where(eq(deployments.id, id)))[0]!.status).toBe('ready');
    } finally {
      server.close();
    }
    await stopAll();
  });
});

describe('worker', () => {
  it('reconciles from the queue and a restarted worker adopts the rows without duplicating them', async () => {
    const { id } = await vllm('adopted', 2);
    let worker = await startDeployWorker(t.db, { ...opts, sweepEveryMs: 300 });
    await until('two replicas', async () => (await activeReplicas(id)).length === 2);
    const before = (await activeReplicas(id)).map((r) => r.id).sort();
    expect(before).toHaveLength(2);
    await worker.close();
    worker = await startDeployWorker(t.db, { ...opts, sweepEveryMs: 300 });
    const reconciled = countCompletedJobs(worker, (job) => job.deploymentId === id);
    await scaleDeployment(t.db, null, id, 2); // an enqueue as well as the sweep
    await reconciled.atLeast(2, 'the restarted worker to reconcile the deployment twice');
    expect((await activeReplicas(id)).map((r) => r.id).sort()).toEqual(before);
    expect(await activeAllocations()).toHaveLength(2);
    await worker.close();
  });
});
