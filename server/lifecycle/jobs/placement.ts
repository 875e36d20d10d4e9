import { and, eq, gt, isNotNull, isNull, sql } from 'drizzle-orm';
import { allocations, joinTokens } from '../../db/schema';
import { planPlacement, type PlacementPlan } from '../../gpu/planner';
import type { DbOrTx } from '../../security/db-types';
import { lockPlacement, plannerNodes } from '../placement';

/** Trainers run where GPU engines run: a node whose engines label allows vllm is a GPU host. */
const TRAINER_ENGINE = 'trainer';

export type JobChoice = { feasible: true; nodeId: string; node: string; gpus: number[]; claimBytes: number } | { feasible: false; reasons: string[] };

export interface JobPlacementRequest {
  memoryBytes: number;
  gpus: number;
  /**
   * The host whose worker would run the process. A job can go there (the worker starts the trainer) or
   * to a node whose agent joined with `enclave agent --join` (that agent starts it, remote.ts); a node
   * with neither is named with that reason. Undefined: every node (an estimate before any worker).
   */
  runnerNode?: string;
}

/**
 * Where a job's GPUs would come from now, with the planner deployments use: `gpus` GPUs on one node,
 * each holding the whole estimate (data parallel). Call under lockPlacement when the answer is acted on.
 */
export async function chooseJobPlacement(tx: DbOrTx, req: JobPlacementRequest): Promise<JobChoice & { plan?: PlacementPlan }> {
  const all = await plannerNodes(tx);
  const reasons: string[] = [];
  const joined = req.runnerNode === undefined ? new Set<string>() : await joinedNodeIds(tx);
  const nodes = all
    .filter((n) => {
      if (req.runnerNode === undefined || n.name === req.runnerNode || joined.has(n.id)) return true;
      reasons.push(`${n.name}: nothing there starts trainers (it is not this worker's host, ${req.runnerNode}, and its agent did not join with --join)`);
      return false;
    })
    .map((n) => ({ ...n, engines: n.engines.includes('vllm') ? [...n.engines, TRAINER_ENGINE] : n.engines }));
  if (!all.length) return { feasible: false, reasons: ['no nodes: no agent has registered yet'] };
  const plan = planPlacement(nodes, {
    engine: TRAINER_ENGINE,
    tp: req.gpus,
    pp: 1,
    maxPp: 1,
    claimPerGpu: () => req.memoryBytes,
    // Training has no KV cache to size: the whole GPU is the budget, less what others already claim.
    gpuMemoryUtilization: 1,
    policy: 'binpack',
  });
  if (!plan.feasible || plan.placements.length !== 1) {
    return { feasible: false, reasons: [...reasons, ...(plan.reasons.length ? plan.reasons : ['no node has room for this job'])], plan };
  }
  const only = plan.placements[0]!;
  const node = nodes.find((n) => n.name === only.node)!;
  return { feasible: true, nodeId: node.id, node: node.name, gpus: only.gpus, claimBytes: plan.claimBytesPerGpu ?? req.memoryBytes, plan };
}

/** Nodes whose agent joined over the control API and holds a live credential: they run their own trainers. */
async function joinedNodeIds(tx: DbOrTx): Promise<Set<string>> {
  const rows = await tx
    .select({ nodeId: joinTokens.usedByNodeId })
    .from(joinTokens)
    .where(and(isNotNull(joinTokens.usedByNodeId), isNull(joinTokens.usedAt), gt(joinTokens.expiresAt, sql`now()`)));
  return new Set(rows.map((r) => r.nodeId!));
}

/** Places and claims in one step, in the caller's transaction: two workers never take the same GPUs. */
export async function placeAndAllocate(tx: DbOrTx, jobId: string, req: JobPlacementRequest): Promise<JobChoice> {
  await lockPlacement(tx);
  const choice = await chooseJobPlacement(tx, req);
  if (choice.feasible && choice.gpus.length) {
    await tx
      .insert(allocations)
      .values(choice.gpus.map((gpuIndex) => ({ nodeId: choice.nodeId, gpuIndex, holderKind: 'job' as const, holderId: jobId, memoryBytes: choice.claimBytes })));
  }
  return choice;
}

export async function releaseJobAllocations(tx: DbOrTx, jobId: string): Promise<void> {
  await tx
    .update(allocations)
    .set({ releasedAt: new Date() })
    .where(and(eq(allocations.holderKind, 'job'), eq(allocations.holderId, jobId), isNull(allocations.releasedAt)));
}
