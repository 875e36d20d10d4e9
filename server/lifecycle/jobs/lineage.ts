import { eq, inArray } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { deployments, jobs, models, modelVersions } from '../../db/schema';
import { DomainError } from '../../core/errors';

const MAX_NODES = 500;

/**
 * A version's family: its ancestors up to the root and every descendant of that root (adapters, merges,
 * quantizations), each with the job that produced it and the deployments that use it.
 */
export async function lineage(db: Db, versionId: string) {
  const [start] = await db.select().from(modelVersions).where(eq(modelVersions.id, versionId));
  if (!start) throw new DomainError('NOT_FOUND', 'Model version not found');
  let root = start;
  for (let hops = 0; root.parentVersionId && hops < MAX_NODES; hops++) {
    const [parent] = await db.select().from(modelVersions).where(eq(modelVersions.id, root.parentVersionId));
    if (!parent) break;
    root = parent;
  }
  const family = new Map([[root.id, root]]);
  for (let frontier = [root.id]; frontier.length && family.size < MAX_NODES; ) {
    const children = await db.select().from(modelVersions).where(inArray(modelVersions.parentVersionId, frontier));
    frontier = children.filter((c) => !family.has(c.id)).map((c) => c.id);
    for (const c of children) family.set(c.id, c);
  }
  const ids = [...family.keys()];
  const names = new Map((await db.select({ id: models.id, name: models.name }).from(models)).map((m) => [m.id, m.name]));
  const jobIds = [...family.values()].map((v) => v.producedByJobId).filter((x): x is string => !!x);
  const jobRows = jobIds.length ? await db.select({ id: jobs.id, kind: jobs.kind, name: jobs.name, status: jobs.status, gateStatus: jobs.gateStatus }).from(jobs).where(inArray(jobs.id, jobIds)) : [];
  const byJob = new Map(jobRows.map((j) => [j.id, j]));
  const deps = await db
    .select({ id: deployments.id, name: deployments.name, modelVersionId: deployments.modelVersionId, status: deployments.status })
    .from(deployments)
    .where(inArray(deployments.modelVersionId, ids));
  const nodes = [...family.values()].map((v) => ({
    id: v.id,
    model: names.get(v.modelId) ?? '',
    version: v.version,
    format: v.format,
    quantization: v.quantization,
    stage: v.stage,
    sizeBytes: v.sizeBytes,
    parentVersionId: v.parentVersionId,
    producedByJobId: v.producedByJobId,
    producedByJob: v.producedByJobId ? (byJob.get(v.producedByJobId) ?? null) : null,
    createdAt: v.createdAt,
    deployments: deps.filter((d) => d.modelVersionId === v.id).map((d) => d.id),
  }));
  const edges = nodes.filter((n) => n.parentVersionId && family.has(n.parentVersionId)).map((n) => ({ from: n.parentVersionId!, to: n.id, jobId: n.producedByJobId }));
  return { rootId: root.id, nodes, edges, deployments: deps.map((d) => ({ ...d, modelVersionId: d.modelVersionId! })) };
}
