import { and, asc, desc, eq, gte, inArray, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../db/client';
import { allocations, gpuNodes, gpuSamples, gpus } from '../db/schema';
import { allocationsWithHolders } from '../gpu/telemetry/allocations';
import { sampleAggregates } from '../gpu/telemetry/series';

/** Every node with its GPUs, each GPU's latest sample and who holds it. */
export async function listFleetNodes(db: Db) {
  const nodes = await db.select().from(gpuNodes).orderBy(asc(gpuNodes.name));
  const devices = await db.select().from(gpus).orderBy(asc(gpus.index));
  const latest = await db
    .selectDistinctOn([gpuSamples.nodeId, gpuSamples.gpuIndex])
    .from(gpuSamples)
    .where(gte(gpuSamples.at, sql`now() - interval '1 hour'`))
    .orderBy(gpuSamples.nodeId, gpuSamples.gpuIndex, desc(gpuSamples.at));
  const held = await allocationsWithHolders(db).where(isNull(allocations.releasedAt));
  return nodes.map((n) => ({
    id: n.id,
    name: n.name,
    status: n.status,
    labels: n.labels,
    lastHeartbeatAt: n.lastHeartbeatAt,
    driverVersion: n.driverVersion,
    cudaVersion: n.cudaVersion,
    /** CPU, memory and disk from the latest heartbeat that reported them (null from an agent that does not). */
    host: n.host ?? null,
    hostAt: n.hostAt,
    gpus: devices
      .filter((g) => g.nodeId === n.id)
      .map((g) => {
        const s = latest.find((x) => x.nodeId === n.id && x.gpuIndex === g.index);
        return {
          index: g.index,
          name: g.name,
          memoryTotalMiB: g.memoryTotalMiB,
          sample: s ? { at: s.at, utilizationPct: s.utilizationPct, memoryUsedMiB: s.memoryUsedMiB, temperatureC: s.temperatureC, powerW: s.powerW } : null,
          allocations: held
            .filter((a) => a.nodeId === n.id && a.gpuIndex === g.index)
            .map((a) => ({ holderKind: a.holderKind, holderId: a.holderId, holderName: a.deploymentName ?? a.holderId.slice(0, 8), deploymentId: a.deploymentId, memoryBytes: a.memoryBytes })),
        };
      }),
  }));
}

export const samplesSchema = z.object({ nodeId: z.string().uuid(), since: z.string().datetime({ offset: true }), gpuIndex: z.number().int().min(0).optional() });

/** At most this many points per GPU reach the browser: buckets are averaged in SQL. */
const MAX_POINTS = 300;

export async function fleetSamples(db: Db, raw: z.input<typeof samplesSchema>) {
  const input = samplesSchema.parse(raw);
  const since = new Date(input.since);
  const spanSeconds = Math.max(1, (Date.now() - since.getTime()) / 1000);
  const bucket = Math.max(1, Math.ceil(spanSeconds / MAX_POINTS));
  const at = sql<Date>`to_timestamp(floor(extract(epoch from ${gpuSamples.at}) / ${bucket}) * ${bucket})`;
  const conditions = [eq(gpuSamples.nodeId, input.nodeId), gte(gpuSamples.at, since)];
  if (input.gpuIndex !== undefined) conditions.push(inArray(gpuSamples.gpuIndex, [input.gpuIndex]));
  const rows = await db
    .select({
      gpuIndex: gpuSamples.gpuIndex,
      at: sql<string>`${at}`.as('bucket_at'),
      ...sampleAggregates,
      memoryTotalMiB: sql<number | null>`max(${gpuSamples.memoryTotalMiB})`,
    })
    .from(gpuSamples)
    .where(and(...conditions))
    .groupBy(gpuSamples.gpuIndex, sql`bucket_at`)
    .orderBy(gpuSamples.gpuIndex, sql`bucket_at`);
  return rows.map((r) => ({ ...r, at: new Date(r.at) }));
}
