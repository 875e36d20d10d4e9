import { storeUpstreamKey } from '../engines/upstream/keys';
import { engineDriver, scrapeEngineLoad } from '../engines/registry';
import { and, asc, desc, eq, inArray, isNull, ne, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../db/client';
import { allocations, deploymentEvents, deploymentReplicas, deployments, models, modelVersions, replicaMembers } from '../db/schema';
import { errorMessage, log } from '../core/log';
import { enqueue } from '../core/queues';
import type { DbOrTx } from '../db/types';
import { DomainError, notFound } from '../core/errors';
import { deploymentSpecSchema, type DeploymentSpec } from '../engines/deployment-spec';
import { recordEvent } from './deployment-events';
import { storedSpec } from '../engines/stored-spec';
import { afterCommit } from '../db/after-commit';

export interface Actor {
  id: string;
  email: string;
}

/** A deployment's name is what clients pass as `model`: OpenAI-style ids such as "org/model-7b:chat". */
export const deploymentNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:\/-]{0,127}$/, 'letters, digits and . _ : / -, starting with a letter or digit; up to 128');

export const createDeploymentSchema = z.object({
  name: deploymentNameSchema,
  modelVersionId: z.string().uuid().optional(),
  spec: deploymentSpecSchema,
  /** The external endpoint's API key (engine upstream): sealed into the spec, never stored or logged in clear. */
  upstreamKey: z.string().regex(/^[\x21-\x7e]{1,4096}$/, "printable characters without spaces").optional(),
  /** Takes images in chat messages / serves the audio endpoints (migration 0031); changed later with setGateway. */
  vision: z.boolean().optional(),
  audio: z.boolean().optional(),
});
export type CreateDeploymentInput = z.input<typeof createDeploymentSchema>;

/** Asks the worker to reconcile now. The sweep would get there within seconds anyway, so Redis being away is no error. */
export async function requestReconcile(deploymentId: string): Promise<void> {
  // The worker reads the row it is told about: only once the change is committed.
  await afterCommit(() => enqueue('deploy', { deploymentId }).catch((e) => log.warn('could not enqueue a reconcile', { deployment: deploymentId, error: errorMessage(e) })));
}

/** Which model formats each engine can serve. */
const ENGINE_FORMATS: Record<DeploymentSpec['engine'], readonly string[]> = { llamacpp: ['gguf'], vllm: ['hf', 'gguf'], tgi: ['hf'], sglang: ['hf'], upstream: [] };

async function checkModelVersion(db: DbOrTx, spec: DeploymentSpec, modelVersionId: string | undefined) {
  // A spec the engine cannot run is refused now, in its words, not at the replica's first start.
  const problems = engineDriver(spec.engine).specProblems?.(spec) ?? [];
  if (problems.length) throw new DomainError('BAD_REQUEST', `spec: ${problems.join('; ')}`);
  if (spec.engine === 'upstream') return;
  if (!modelVersionId) throw new DomainError('BAD_REQUEST', `modelVersionId: a ${spec.engine} deployment needs a model version`);
  const [version] = await db.select({ format: modelVersions.format }).from(modelVersions).where(eq(modelVersions.id, modelVersionId));
  if (!version) throw new DomainError('BAD_REQUEST', 'modelVersionId: no such model version');
  if (!ENGINE_FORMATS[spec.engine].includes(version.format))
    throw new DomainError('BAD_REQUEST', `modelVersionId: the ${spec.engine} engine cannot serve a ${version.format} version (it serves ${ENGINE_FORMATS[spec.engine].join(', ')})`);
}

export async function createDeployment(db: Db, actor: Actor | null, raw: CreateDeploymentInput, opts: { masterKey?: Buffer } = {}): Promise<{ id: string }> {
  const input = createDeploymentSchema.parse(raw);
  const spec = input.spec;
  if (input.upstreamKey && spec.engine !== 'upstream') throw new DomainError('BAD_REQUEST', 'upstreamKey is only for engine upstream');
  if (input.upstreamKey && !opts.masterKey) throw new Error('createDeployment needs the master key to seal an upstream key');
  await checkModelVersion(db, spec, input.modelVersionId);
  const row = await db.transaction(async (tx) => {
    const [created] = await tx
      .insert(deployments)
      .values({ name: input.name, modelVersionId: input.modelVersionId ?? null, engine: spec.engine, spec, desiredReplicas: spec.replicas, status: 'pending', vision: input.vision ?? false, audio: input.audio ?? false })
      .onConflictDoNothing({ target: deployments.name })
      .returning({ id: deployments.id });
    if (!created) throw new DomainError('CONFLICT', `A deployment named ${input.name} already exists`);
    await recordEvent(tx, created.id, 'info', `created${actor ? ` by ${actor.email}` : ''}: ${spec.engine}, ${spec.replicas} replica(s)`);
    return created;
  });
  // Sealed before the first reconcile, which probes the upstream with it.
  if (input.upstreamKey) await storeUpstreamKey(db, opts.masterKey!, row.id, input.upstreamKey);
  await requestReconcile(row.id);
  return row;
}

async function lockDeployment(tx: DbOrTx, id: string) {
  const [row] = await tx.select().from(deployments).where(eq(deployments.id, id)).for('update');
  if (!row) throw notFound('No such deployment');
  return row;
}

/** Marks active replicas stopped (the agent ends their processes) and releases what they held. */
export async function stopReplicas(tx: DbOrTx, replicaIds: string[]): Promise<void> {
  if (!replicaIds.length) return;
  const now = new Date();
  await tx.update(deploymentReplicas).set({ status: 'stopped', updatedAt: now }).where(inArray(deploymentReplicas.id, replicaIds));
  // A multi-node replica's other hosts stop with it (their agents already read them as stopped).
  await tx.update(replicaMembers).set({ status: 'stopped', updatedAt: now }).where(and(inArray(replicaMembers.replicaId, replicaIds), ne(replicaMembers.status, 'stopped')));
  await tx
    .update(allocations)
    .set({ releasedAt: now })
    .where(and(eq(allocations.holderKind, 'replica'), inArray(allocations.holderId, replicaIds), isNull(allocations.releasedAt)));
}

async function activeReplicaIds(tx: DbOrTx, deploymentId: string): Promise<string[]> {
  const rows = await tx
    .select({ id: deploymentReplicas.id })
    .from(deploymentReplicas)
    .where(and(eq(deploymentReplicas.deploymentId, deploymentId), ne(deploymentReplicas.status, 'stopped')));
  return rows.map((r) => r.id);
}

/** A new spec (and model version) replaces every replica: the reconciler places new ones under the new spec. */
export async function updateDeployment(db: Db, actor: Actor | null, id: string, raw: { modelVersionId?: string; spec: z.input<typeof deploymentSpecSchema> }) {
  const spec = deploymentSpecSchema.parse(raw.spec);
  await db.transaction(async (tx) => {
    const current = await lockDeployment(tx, id);
    if (spec.engine !== current.engine) throw new DomainError('BAD_REQUEST', 'spec.engine: create a new deployment to change the engine');
    const modelVersionId = raw.modelVersionId ?? current.modelVersionId ?? undefined;
    await checkModelVersion(tx, spec, modelVersionId);
    await tx.update(deployments).set({ spec, modelVersionId: modelVersionId ?? null, desiredReplicas: spec.replicas, updatedAt: new Date() }).where(eq(deployments.id, id));
    await stopReplicas(tx, await activeReplicaIds(tx, id));
    await recordEvent(tx, id, 'info', `spec updated${actor ? ` by ${actor.email}` : ''}; replicas are replaced`);
  });
  await requestReconcile(id);
}

/**
 * Sets the desired replica count. Scaling a deployment that was scaled to zero starts it again; one
 * the user stopped stays stopped (with the new count for when it starts).
 */
export async function scaleDeployment(db: Db, actor: Actor | null, id: string, replicas: number) {
  const count = z.number().int().min(0).max(64).parse(replicas);
  await db.transaction(async (tx) => {
    const current = await lockDeployment(tx, id);
    const resume = current.status === 'stopped' && current.desiredReplicas === 0 && count > 0;
    const spec = { ...(current.spec ?? {}), replicas: count };
    await tx
      .update(deployments)
      .set({ desiredReplicas: count, spec, updatedAt: new Date(), ...(resume ? { status: 'pending' as const } : {}) })
      .where(eq(deployments.id, id));
    await recordEvent(tx, id, 'scale', `desired replicas ${current.desiredReplicas} → ${count}${actor ? ` by ${actor.email}` : ''}`);
  });
  await requestReconcile(id);
}

export async function stopDeployment(db: Db, actor: Actor | null, id: string) {
  await db.transaction(async (tx) => {
    await lockDeployment(tx, id);
    await stopReplicas(tx, await activeReplicaIds(tx, id));
    await tx.update(deployments).set({ status: 'stopped', updatedAt: new Date() }).where(eq(deployments.id, id));
    await recordEvent(tx, id, 'status', `stopped${actor ? ` by ${actor.email}` : ''}`);
  });
  await requestReconcile(id);
}

/** Starts a stopped deployment, or retries a failed one: replicas that were given up are replaced. */
export async function startDeployment(db: Db, actor: Actor | null, id: string) {
  await db.transaction(async (tx) => {
    await lockDeployment(tx, id);
    const givenUp = await tx
      .select({ id: deploymentReplicas.id })
      .from(deploymentReplicas)
      .where(and(eq(deploymentReplicas.deploymentId, id), eq(deploymentReplicas.status, 'failed')));
    await stopReplicas(tx, givenUp.map((r) => r.id));
    await tx.update(deployments).set({ status: 'pending', updatedAt: new Date() }).where(eq(deployments.id, id));
    await recordEvent(tx, id, 'status', `started${actor ? ` by ${actor.email}` : ''}`);
  });
  await requestReconcile(id);
}

/** Stops everything first (allocations released, agents end processes), then removes the row and its history. */
export async function deleteDeployment(db: Db, _actor: Actor | null, id: string) {
  await db.transaction(async (tx) => {
    await lockDeployment(tx, id);
    const all = await tx.select({ id: deploymentReplicas.id }).from(deploymentReplicas).where(eq(deploymentReplicas.deploymentId, id));
    await stopReplicas(tx, all.map((r) => r.id));
    await tx.delete(deployments).where(eq(deployments.id, id));
  });
}

const listColumns = {
  id: deployments.id,
  name: deployments.name,
  engine: deployments.engine,
  status: deployments.status,
  desiredReplicas: deployments.desiredReplicas,
  readyReplicas: sql<number>`(SELECT count(*)::int FROM ${deploymentReplicas} r WHERE r.deployment_id = ${deployments.id} AND r.status = 'ready')`,
  modelVersionId: deployments.modelVersionId,
  modelName: models.name,
  rawSpec: deployments.spec,
  updatedAt: deployments.updatedAt,
};

// Generic over the row, so the columns keep their types all the way to the pages (tRPC infers them).
function listView<Row extends { rawSpec: Record<string, unknown>; engine: DeploymentSpec['engine']; desiredReplicas: number }>(row: Row) {
  const { rawSpec, ...rest } = row;
  return { ...rest, spec: storedSpec({ engine: row.engine, spec: rawSpec, desiredReplicas: row.desiredReplicas }) };
}

function listQuery(db: Db) {
  return db.select(listColumns).from(deployments).leftJoin(modelVersions, eq(modelVersions.id, deployments.modelVersionId)).leftJoin(models, eq(models.id, modelVersions.modelId));
}

export async function listDeployments(db: Db) {
  const rows = await listQuery(db).orderBy(asc(deployments.name));
  return rows.map(listView);
}

const RECENT_EVENTS = 100;

/** One deployment with its replicas (stopped ones from the last day too, as history) and recent events. */
export async function getDeployment(db: Db, id: string) {
  const [row] = await listQuery(db).where(eq(deployments.id, id));
  if (!row) throw notFound('No such deployment');
  const replicas = await db
    .select({
      id: deploymentReplicas.id,
      nodeName: deploymentReplicas.nodeName,
      gpuIndices: deploymentReplicas.gpuIndices,
      url: deploymentReplicas.url,
      status: deploymentReplicas.status,
      restarts: deploymentReplicas.restarts,
      lastError: deploymentReplicas.lastError,
      pid: deploymentReplicas.pid,
      startedAt: deploymentReplicas.startedAt,
    })
    .from(deploymentReplicas)
    .where(and(eq(deploymentReplicas.deploymentId, id), sql`(${deploymentReplicas.status} <> 'stopped' OR ${deploymentReplicas.updatedAt} > now() - interval '1 day')`))
    .orderBy(desc(deploymentReplicas.startedAt));
  const events = await db
    .select({ at: deploymentEvents.at, kind: deploymentEvents.kind, message: deploymentEvents.message })
    .from(deploymentEvents)
    .where(eq(deploymentEvents.deploymentId, id))
    .orderBy(desc(deploymentEvents.id))
    .limit(RECENT_EVENTS);
  // Live load of each ready engine from its own /metrics, read with its engine's names (the llamacpp
  // engine speaks vLLM's). Upstreams are not scraped: their metrics are not ours to read.
  const withLoad = await Promise.all(
    replicas.map(async (r) => ({
      ...r,
      load:
        r.status === 'ready' && r.url && row.engine !== 'upstream'
          ? await scrapeEngineLoad(row.engine, r.url, AbortSignal.timeout(1_500)).catch(() => null)
          : null,
    })),
  );
  // A multi-node replica's other hosts (its current start's members), rank order, for the page.
  const members = replicas.length
    ? await db
        .select({ replicaId: replicaMembers.replicaId, rank: replicaMembers.rank, nodeName: replicaMembers.nodeName, gpuIndices: replicaMembers.gpuIndices, status: replicaMembers.status })
        .from(replicaMembers)
        .innerJoin(deploymentReplicas, and(eq(deploymentReplicas.id, replicaMembers.replicaId), eq(deploymentReplicas.restarts, replicaMembers.generation)))
        .where(inArray(replicaMembers.replicaId, replicas.map((r) => r.id)))
        .orderBy(asc(replicaMembers.rank))
    : [];
  const withMembers = withLoad.map((r) => ({ ...r, members: members.filter((m) => m.replicaId === r.id).map(({ replicaId: _, ...m }) => m) }));
  return { ...listView(row), replicas: withMembers, events };
}
