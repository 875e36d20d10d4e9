import { and, asc, eq, gte, isNotNull, lte, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { deploymentEvents, deployments, gpuNodes, gpuSamples, gpus, requestLogs } from '../../db/schema';
import { allocationIntervals } from '../../gpu/telemetry/allocations';
import { KIND_INFO } from './kinds';
import type { AlertInputs, DeploymentWindowInput, GpuInput, RuleView } from './types';

/** Sample history read per evaluation: the longest hold among GPU rules, plus a margin, never more than this. */
const MAX_HISTORY_MS = 6 * 3_600_000;
const HISTORY_MARGIN_MS = 120_000;

/** Loads what the enabled rules need, and only that: no samples when no GPU rule is on, say. */
export async function loadAlertInputs(db: Db, rules: RuleView[], now: Date): Promise<AlertInputs> {
  const kinds = new Set(rules.map((r) => r.kind));
  const gpuRules = rules.filter((r) => KIND_INFO[r.kind].subject === 'gpu');
  const input: AlertInputs = { now: now.getTime(), gpus: [], nodes: [], replicaRestarts: [], deploymentWindows: [] };
  const nodes = await db.select().from(gpuNodes).orderBy(asc(gpuNodes.name));
  input.nodes = nodes.map((n) => ({ name: n.name, status: n.status, lastHeartbeatAt: n.lastHeartbeatAt?.getTime() ?? null }));

  if (gpuRules.length) {
    const history = Math.min(MAX_HISTORY_MS, Math.max(...gpuRules.map((r) => r.durationSeconds * 1000)) + HISTORY_MARGIN_MS);
    input.gpus = await loadGpus(db, nodes, new Date(now.getTime() - history), now);
  }
  const restartRules = rules.filter((r) => r.kind === 'replica_restarts');
  if (restartRules.length) {
    const since = new Date(now.getTime() - Math.max(...restartRules.map((r) => r.durationSeconds)) * 1000);
    const events = await db
      .select({ replicaId: deploymentEvents.replicaId, at: deploymentEvents.at, deploymentName: deployments.name })
      .from(deploymentEvents)
      .innerJoin(deployments, eq(deployments.id, deploymentEvents.deploymentId))
      .where(and(eq(deploymentEvents.kind, 'restart'), isNotNull(deploymentEvents.replicaId), gte(deploymentEvents.at, since), lte(deploymentEvents.at, now)));
    const byReplica = new Map<string, { deploymentName: string; replicaId: string; restarts: number[] }>();
    for (const e of events) {
      const entry = byReplica.get(e.replicaId!) ?? { deploymentName: e.deploymentName, replicaId: e.replicaId!, restarts: [] };
      entry.restarts.push(e.at.getTime());
      byReplica.set(e.replicaId!, entry);
    }
    input.replicaRestarts = [...byReplica.values()];
  }
  if (kinds.has('deployment_error_rate') || kinds.has('deployment_ttft_p95')) {
    const windows = new Set(rules.filter((r) => KIND_INFO[r.kind].subject === 'deployment').map((r) => r.durationSeconds));
    for (const w of windows) input.deploymentWindows.push(...(await deploymentWindow(db, w, now)));
  }
  return input;
}

async function loadGpus(db: Db, nodes: (typeof gpuNodes.$inferSelect)[], since: Date, now: Date): Promise<GpuInput[]> {
  const nameOf = new Map(nodes.map((n) => [n.id, n.name]));
  const samples = await db
    .select()
    .from(gpuSamples)
    .where(and(gte(gpuSamples.at, since), lte(gpuSamples.at, now)))
    .orderBy(asc(gpuSamples.nodeId), asc(gpuSamples.gpuIndex), asc(gpuSamples.at));
  const devices = await db.select().from(gpus);
  // Clipped to the history read: a run cannot start before the first sample anyway.
  const held = await allocationIntervals(db, null, since, now);
  const result = new Map<string, GpuInput>();
  const entry = (nodeId: string, gpuIndex: number) => {
    const key = `${nodeId}/${gpuIndex}`;
    let g = result.get(key);
    if (!g) {
      const device = devices.find((d) => d.nodeId === nodeId && d.index === gpuIndex);
      g = { nodeName: nameOf.get(nodeId) ?? nodeId, gpuIndex, memoryTotalMiB: device?.memoryTotalMiB ?? null, samples: [], allocations: [] };
      result.set(key, g);
    }
    return g;
  };
  for (const s of samples) {
    entry(s.nodeId, s.gpuIndex).samples.push({
      at: s.at.getTime(),
      utilizationPct: s.utilizationPct,
      memoryUsedMiB: s.memoryUsedMiB,
      memoryTotalMiB: s.memoryTotalMiB,
      temperatureC: s.temperatureC,
    });
  }
  for (const a of held) if (a.to === null) entry(a.nodeId, a.gpuIndex).allocations.push({ holderName: a.holderName, since: a.from });
  return [...result.values()];
}

/** Gateway traffic per deployment over a trailing window; errors are 5xx (4xx are the caller's doing). */
async function deploymentWindow(db: Db, windowSeconds: number, now: Date): Promise<DeploymentWindowInput[]> {
  const since = new Date(now.getTime() - windowSeconds * 1000);
  const rows = await db
    .select({
      deploymentName: deployments.name,
      requests: sql<number>`count(*)::int`,
      errors: sql<number>`(count(*) filter (where ${requestLogs.status} >= 500))::int`,
      ttftP95Ms: sql<number | null>`percentile_cont(0.95) within group (order by ${requestLogs.ttftMs}) filter (where ${requestLogs.ttftMs} is not null)`,
      ttftCount: sql<number>`count(${requestLogs.ttftMs})::int`,
    })
    .from(requestLogs)
    .innerJoin(deployments, eq(deployments.id, requestLogs.deploymentId))
    .where(and(gte(requestLogs.createdAt, since), lte(requestLogs.createdAt, now)))
    .groupBy(deployments.name);
  return rows.map((r) => ({ ...r, windowSeconds, ttftP95Ms: r.ttftP95Ms === null ? null : Number(r.ttftP95Ms) }));
}

