import { randomBytes } from 'node:crypto';
import type { Db } from '../db/client';
import {
  battles,
  deploymentReplicas,
  deployments,
  experimentVariants,
  experiments,
  gpuNodes,
  gpus,
  jobs,
  loadTests,
  models,
  modelVersions,
  users,
  type Role,
} from '../db/schema';
import { ingestDataset } from '../lifecycle/datasets/ingest';

/**
 * Small row builders for tests: each inserts plausible defaults under what it is given and returns the
 * row. They check nothing (the services do): a test may build a row the service would refuse. A row
 * that needs an owner gets a fresh user when none is given.
 */
const unique = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

export async function makeUser(db: Db, over: Partial<typeof users.$inferInsert> & { role?: Role } = {}) {
  const [row] = await db
    .insert(users)
    .values({ email: `u-${randomBytes(4).toString('hex')}@example.test`, passwordHash: 'not-a-real-hash', role: 'user', ...over })
    .returning();
  return row!;
}

const ownerId = async (db: Db, given: string | undefined, role: Role = 'engineer') => given ?? (await makeUser(db, { role })).id;

/** A model and one version of it (a GGUF file by default; nothing is read from `location`). */
export async function makeModelVersion(db: Db, over: Partial<typeof modelVersions.$inferInsert> & { modelName?: string } = {}) {
  const { modelName = unique('model'), ...version } = over;
  const [model] = await db.insert(models).values({ name: modelName }).returning();
  const [row] = await db
    .insert(modelVersions)
    .values({ version: 'v1', format: 'gguf', location: `/models/${modelName}.gguf`, ...version, modelId: model!.id })
    .returning();
  return { model: model!, version: row! };
}

/** A deployment (ready, built-in engine) with one ready replica per URL. */
export async function makeDeployment(db: Db, over: Partial<typeof deployments.$inferInsert> = {}, replicaUrls: string[] = []) {
  const [dep] = await db.insert(deployments).values({ name: unique('m'), engine: 'llamacpp', status: 'ready', ...over }).returning();
  const replicas = [];
  for (const url of replicaUrls) replicas.push(await makeReplica(db, dep!.id, { url, status: 'ready' }));
  return { deployment: dep!, replicas };
}

/** A replica row; by default one the reconciler has just assigned (no URL yet, starting). */
export async function makeReplica(db: Db, deploymentId: string, over: Partial<typeof deploymentReplicas.$inferInsert> = {}) {
  const [row] = await db.insert(deploymentReplicas).values({ url: '', status: 'starting', ...over, deploymentId }).returning();
  return row!;
}

/** A node as an agent would have registered it, healthy, with `gpuCount` GPUs (H100s of 80 GB unless told). */
export async function makeNode(
  db: Db,
  over: Partial<typeof gpuNodes.$inferInsert> & { gpuCount?: number; gpuName?: string; memoryTotalMiB?: number } = {},
) {
  const { gpuCount = 0, gpuName = 'NVIDIA H100 80GB HBM3', memoryTotalMiB = 81_559, ...node } = over;
  const [row] = await db.insert(gpuNodes).values({ name: unique('node'), status: 'healthy', lastHeartbeatAt: new Date(), ...node }).returning();
  if (gpuCount > 0) await db.insert(gpus).values(Array.from({ length: gpuCount }, (_, index) => ({ nodeId: row!.id, index, name: gpuName, memoryTotalMiB })));
  return row!;
}

/** A fine-tune or quantization job row (queued, empty spec unless told). */
export async function makeJob(db: Db, over: Partial<typeof jobs.$inferInsert> = {}) {
  const [row] = await db
    .insert(jobs)
    .values({ kind: 'finetune', name: unique('job'), spec: {}, ...over, ownerId: await ownerId(db, over.ownerId) })
    .returning();
  return row!;
}

/** A real dataset through the real upload path (sealed on disk), `rows` rows in OpenAI messages form. */
export async function makeDataset(db: Db, masterKey: Buffer, dataDir: string, ownerId: string, rows = 20) {
  const text = Array.from({ length: rows }, (_, i) => JSON.stringify({ messages: [{ role: 'user', content: `What is ${i} plus ${i}?` }, { role: 'assistant', content: `${i + i}.` }] })).join('\n');
  async function* source() {
    yield Buffer.from(text);
  }
  const result = await ingestDataset(db, masterKey, dataDir, source(), { ownerId, name: `sums-${rows}`, heldOutFraction: 0.2, seed: 7, maxBytes: 1 << 20 });
  if (!result.ok) throw new Error(`dataset rejected: ${result.message}`);
  return result.dataset;
}

/** A load test row (queued, against a URL where nothing listens, empty spec unless told). */
export async function makeLoadTest(db: Db, over: Partial<typeof loadTests.$inferInsert> = {}) {
  const [row] = await db
    .insert(loadTests)
    .values({ name: unique('loadtest'), targetUrl: 'http://127.0.0.1:9/v1', model: 'm', spec: {}, ...over, ownerId: await ownerId(db, over.ownerId) })
    .returning();
  return row!;
}

/** An experiment (running unless told) and its variants as given, sorted by label. */
export async function makeExperiment(
  db: Db,
  over: Partial<typeof experiments.$inferInsert> = {},
  variants: { label: string; deploymentId: string; weight: number }[] = [],
) {
  const [e] = await db.insert(experiments).values({ name: unique('exp'), status: 'running', ...over }).returning();
  const vs = variants.length ? await db.insert(experimentVariants).values(variants.map((v) => ({ ...v, experimentId: e!.id }))).returning() : [];
  return { experiment: e!, variants: vs.sort((a, b) => a.label.localeCompare(b.label)) };
}

/** An arena battle between two model names, not voted on. */
export async function makeBattle(db: Db, over: Partial<typeof battles.$inferInsert> = {}) {
  const [row] = await db
    .insert(battles)
    .values({ modelA: 'model-a', modelB: 'model-b', ...over, userId: await ownerId(db, over.userId, 'user') })
    .returning();
  return row!;
}
