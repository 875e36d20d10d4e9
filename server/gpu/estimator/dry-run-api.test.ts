import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiTestServer } from '../../api/testing/api-test-server';
import { closeRedis } from '../../core/redis';
import { registerVersion } from '../../lifecycle/catalog';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../../testing/database';
import { makeNode } from '../../testing/factories';
import { loadFixture } from './configs/published';
import { GiB } from '.';

// What a caller of deployments.dryRun sees for a shape the estimator has not been taught (a clear 400
// naming it, not an internal error) and for a MoE model it now sizes (every expert resident).
process.env.REDIS_PREFIX = testRedisPrefix('estimatorapi');
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let cookie: string;
let dir: string;

async function versionWith(name: string, config: unknown) {
  const location = path.join(dir, name);
  fs.mkdirSync(location);
  fs.writeFileSync(path.join(location, 'config.json'), JSON.stringify(config));
  return (await registerVersion(t.db, { modelName: name, format: 'hf', location })).id;
}

beforeAll(async () => {
  t = await createTestDatabase('estimatorapi');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-estimator-api-'));
  api = await startApiTestServer({ db: t.db, masterKey: randomBytes(32) });
  await makeNode(t.db, { name: 'gpu-h100', gpuCount: 2 });
  cookie = (await api.userSession('engineer')).cookie;
});
afterAll(async () => {
  await api?.close();
  await closeRedis();
  await t?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const dryRun = (modelVersionId: string, spec: Record<string, unknown> = {}) =>
  api.trpc('query', 'deployments.dryRun', { modelVersionId, spec: { engine: 'vllm', ...spec } }, cookie);

it('an unknown architecture or quantization reaches the caller as a 400 that names it', async () => {
  const mamba = await versionWith('mamba', { ...(loadFixture('meta-llama-3-8b') as object), architectures: ['MambaForCausalLM'] });
  const refused = await dryRun(mamba);
  expect(refused.status).toBe(400);
  expect(refused.error?.message).toMatch(/architecture MambaForCausalLM is not one the memory estimator has been taught/);

  const mxfp4 = await versionWith('mxfp4', { ...(loadFixture('qwen3-30b-a3b') as object), quantization_config: { quant_method: 'mxfp4' } });
  const unknownQuant = await dryRun(mxfp4);
  expect(unknownQuant.status).toBe(400);
  expect(unknownQuant.error?.message).toMatch(/quant_method "mxfp4"/);
});

it('a Qwen3-MoE model is sized with all 128 experts resident', async () => {
  const qwen3 = await versionWith('qwen3-30b-a3b', loadFixture('qwen3-30b-a3b'));
  const answer = await dryRun(qwen3, { tp: 1, maxModelLen: 8192 });
  expect(answer.status).toBe(200);
  expect(answer.data.perGpu.weightsBytes / GiB).toBeCloseTo(56.87, 1);
  expect(answer.data.feasible).toBe(true);
});
