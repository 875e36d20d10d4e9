import { and, eq, isNull, ne, sql } from 'drizzle-orm';
import { allocations, deploymentReplicas, GPU_ENGINES, gpuNodes, gpus } from '../../db/schema';
import { planPlacement, type ClaimPerGpu, type PlacementPlan, type Policy } from '../planner';
import { nodeFilterReason } from '../planner/node-filter';
import type { PlannerNode, Topology } from '../types';
import type { DbOrTx } from '../../db/types';
import type { DeploymentSpec } from '../../engines/deployment-spec';
import type { PlacementClaim } from './learned-claim';

const MiB = 1024 * 1024;

/** Engines a node runs unless its labels say otherwise (label `enclave.io/engines`: "vllm,llamacpp"). */
const DEFAULT_NODE_ENGINES = [...GPU_ENGINES, 'llamacpp'];

/**
 * One lock for every placement in the fleet: the planner compares all nodes, so two reconcilers
 * placing at once must see each other's allocations. Placement is a few milliseconds of work, so a
 * single lock costs nothing; an advisory lock leaves gpu_nodes free for heartbeats meanwhile.
 */
export async function lockPlacement(tx: DbOrTx): Promise<void> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext('enclave:placement'))`);
}

/** The fleet as the planner sees it: nodes, their GPUs and what active allocations already claim. */
export async function plannerNodes(tx: DbOrTx): Promise<(PlannerNode & { id: string })[]> {
  const nodes = await tx.select().from(gpuNodes).orderBy(gpuNodes.name);
  const devices = await tx.select().from(gpus).orderBy(gpus.nodeId, gpus.index);
  const claimed = await tx
    .select({ nodeId: allocations.nodeId, gpuIndex: allocations.gpuIndex, bytes: sql<string>`sum(${allocations.memoryBytes})` })
    .from(allocations)
    .where(isNull(allocations.releasedAt))
    .groupBy(allocations.nodeId, allocations.gpuIndex);
  const claimedBytes = new Map(claimed.map((c) => [`${c.nodeId}/${c.gpuIndex}`, Number(c.bytes)]));
  return nodes.map((n) => ({
    id: n.id,
    name: n.name,
    healthy: n.status === 'healthy',
    labels: n.labels ?? {},
    engines: n.labels?.['enclave.io/engines']?.split(',').map((e) => e.trim()) ?? DEFAULT_NODE_ENGINES,
    topology: (n.topology as Topology | null) ?? null,
    gpus: devices
      .filter((g) => g.nodeId === n.id)
      .map((g) => ({ index: g.index, memoryTotalBytes: (g.memoryTotalMiB ?? 0) * MiB, allocatedBytes: claimedBytes.get(`${n.id}/${g.index}`) ?? 0 })),
  }));
}

/** One host of a replica spread over several (vLLM pipeline parallel): rank 1.. after the head. */
export interface MemberPlacement {
  rank: number;
  nodeId: string;
  node: string;
  gpus: number[];
}

/**
 * `basis`: what the claim came from, in plain words ("measured on … start of …", or the estimate).
 * `node`/`gpus` are the head's (rank 0: the replica's API); `members` the other hosts, when several.
 */
export type Choice =
  | { feasible: true; nodeId: string; node: string; gpus: number[]; claimBytes: number; plan?: PlacementPlan; basis?: string; members?: MemberPlacement[] }
  | { feasible: false; reasons: string[]; plan?: PlacementPlan };

/** CPU engines need no GPU: any healthy node with the labels, the one running the fewest replicas first. */
async function chooseCpuNode(tx: DbOrTx, nodes: (PlannerNode & { id: string })[], spec: DeploymentSpec): Promise<Choice> {
  const reasons: string[] = [];
  const fit = nodes.filter((n) => {
    const why = nodeFilterReason(n, { engine: spec.engine, labels: spec.labels, claimPerGpu: () => 0, gpuMemoryUtilization: 1, policy: 'spread' });
    if (why && why !== 'no GPUs') reasons.push(`${n.name}: ${why}`);
    return !why || why === 'no GPUs';
  });
  if (!fit.length) return { feasible: false, reasons: nodes.length ? reasons : ['no nodes: no agent has registered yet'] };
  const load = await tx
    .select({ node: deploymentReplicas.nodeName, count: sql<number>`count(*)::int` })
    .from(deploymentReplicas)
    .where(ne(deploymentReplicas.status, 'stopped'))
    .groupBy(deploymentReplicas.nodeName);
  const busy = new Map(load.map((l) => [l.node, l.count]));
  const pick = [...fit].sort((a, b) => (busy.get(a.name) ?? 0) - (busy.get(b.name) ?? 0))[0]!;
  return { feasible: true, nodeId: pick.id, node: pick.name, gpus: [], claimBytes: 0 };
}

export interface PlaceOptions {
  policy: Policy;
  /** The per-GPU claim for a split, from the estimator (GPU engines only), with what measured starts taught it. */
  claimPerGpu?: PlacementClaim;
}

/** Each node's GPU type (its GPUs' nvidia-smi name), null for a node without GPUs or with several types. */
async function nodeGpuNames(tx: DbOrTx): Promise<Map<string, string | null>> {
  const rows = await tx.selectDistinct({ nodeId: gpus.nodeId, name: gpus.name }).from(gpus);
  const names = new Map<string, string | null>();
  for (const r of rows) names.set(r.nodeId, names.has(r.nodeId) ? null : r.name);
  return names;
}

/** Where one replica of this spec goes now, or each node's reason why nowhere. Call under lockPlacement. */
export async function choosePlacement(tx: DbOrTx, spec: DeploymentSpec, opts: PlaceOptions): Promise<Choice> {
  const nodes = await plannerNodes(tx);
  if (spec.engine === 'llamacpp') return chooseCpuNode(tx, nodes, spec);
  if (!opts.claimPerGpu) return { feasible: false, reasons: ['no memory estimate for this model version'] };
  const learned = opts.claimPerGpu.learned;
  if (!learned?.gpuNames.length) return planOn(nodes, spec, opts.policy, opts.claimPerGpu);
  // The planner takes one claim for every node, but a measurement holds for its GPU type only: plan on the
  // nodes of each measured type with its measured claim first (a start there is known to fit), then on the
  // rest with the estimate.
  const typeOf = await nodeGpuNames(tx);
  const reasons: string[] = [];
  let last: PlacementPlan | undefined;
  for (const gpuName of learned.gpuNames) {
    const group = nodes.filter((n) => typeOf.get(n.id) === gpuName);
    if (!group.length) continue;
    const choice = planOn(group, spec, opts.policy, learned.claimOn(gpuName));
    if (choice.feasible) return { ...choice, basis: learned.basis(gpuName, choice.plan?.tp ?? spec.tp ?? 1) ?? ESTIMATE };
    reasons.push(...choice.reasons);
    last = choice.plan;
  }
  const rest = nodes.filter((n) => !learned.gpuNames.includes(typeOf.get(n.id) ?? ''));
  if (rest.length) {
    const choice = planOn(rest, spec, opts.policy, opts.claimPerGpu);
    if (choice.feasible) return choice;
    reasons.push(...choice.reasons);
    last = choice.plan;
  }
  return { feasible: false, reasons: reasons.length ? reasons : ['no node has room for this deployment'], plan: last };
}

const ESTIMATE = "the estimate from the model's config.json (no measured start of this model, dtype, quantization, TP and GPU type yet)";

function planOn(nodes: (PlannerNode & { id: string })[], spec: DeploymentSpec, policy: Policy, claimPerGpu: ClaimPerGpu): Choice {
  // Only vLLM runs one replica across hosts (one pipeline stage per host, PP of them); every other engine
  // gets one node.
  const hosts = spec.engine === 'vllm' ? spec.pp : 1;
  const plan = planPlacement(nodes, {
    engine: spec.engine,
    labels: spec.labels,
    tp: spec.tp,
    pp: spec.pp,
    maxPp: hosts,
    claimPerGpu,
    gpuMemoryUtilization: spec.gpuMemoryUtilization,
    policy,
  });
  if (!plan.feasible || plan.placements.length !== hosts) {
    const why = hosts === 1 && spec.pp > 1 ? [`${spec.engine} cannot run one replica across hosts (pipeline parallel ${spec.pp}); only vLLM can`] : ['no node has room for this deployment'];
    return { feasible: false, reasons: plan.reasons.length ? plan.reasons : why, plan };
  }
  const [head, ...rest] = plan.placements.map((p) => ({ p, node: nodes.find((n) => n.name === p.node)! }));
  const members = rest.map(({ p, node }, i) => ({ rank: i + 1, nodeId: node.id, node: node.name, gpus: p.gpus }));
  return { feasible: true, nodeId: head!.node.id, node: head!.node.name, gpus: head!.p.gpus, claimBytes: plan.claimBytesPerGpu ?? 0, plan, basis: ESTIMATE, ...(members.length ? { members } : {}) };
}

/** Writes a placement: the replica's node and GPUs and one allocation per GPU, in the caller's transaction. */
export async function assignReplica(tx: DbOrTx, replicaId: string, choice: Extract<Choice, { feasible: true }>): Promise<void> {
  // Every host's GPUs are held by the one replica: released together when the group stops or fails.
  const hosts = [{ nodeId: choice.nodeId, gpus: choice.gpus }, ...(choice.members ?? [])];
  const rows = hosts.flatMap((h) => h.gpus.map((gpuIndex) => ({ nodeId: h.nodeId, gpuIndex, holderKind: 'replica' as const, holderId: replicaId, memoryBytes: choice.claimBytes })));
  if (rows.length) await tx.insert(allocations).values(rows);
}

export async function releaseAllocations(tx: DbOrTx, replicaId: string): Promise<void> {
  await tx
    .update(allocations)
    .set({ releasedAt: new Date() })
    .where(and(eq(allocations.holderKind, 'replica'), eq(allocations.holderId, replicaId), isNull(allocations.releasedAt)));
}
