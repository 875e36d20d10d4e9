import { and, eq, isNull } from 'drizzle-orm';
import { allocations, isGpuEngine } from '../../db/schema';
import { planPlacement, type PlacementPlan } from '../planner';
import type { DbOrTx } from '../../db/types';
import { lockPlacement, plannerNodes } from './claims';

/** Trainers run where GPU engines run: a node whose engines label allows one (vllm, tgi, sglang) is a GPU host. */
const TRAINER_ENGINE = 'trainer';

export type JobChoice = { feasible: true; nodeId: string; node: string; gpus: number[]; claimBytes: number } | { feasible: false; reasons: string[] };

export interface JobPlacementRequest {
  memoryBytes: number;
  gpus: number;
}

/**
 * Where a job's GPUs would come from now, with the planner deployments use: `gpus` GPUs on one node,
 * each holding the whole estimate (data parallel). Call under lockPlacement when the answer is acted on.
 */
export async function chooseJobPlacement(tx: DbOrTx, req: JobPlacementRequest): Promise<JobChoice & { plan?: PlacementPlan }> {
  // Any node can take a job: the worker runs the trainer on its own host, and every other node's agent
  // (joined over the control API or sharing the database) runs those handed to it (remote.ts).
  const all = await plannerNodes(tx);
  const nodes = all.map((n) => ({ ...n, engines: n.engines.some(isGpuEngine) ? [...n.engines, TRAINER_ENGINE] : n.engines }));
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
    return { feasible: false, reasons: plan.reasons.length ? plan.reasons : ['no node has room for this job'], plan };
  }
  const only = plan.placements[0]!;
  const node = nodes.find((n) => n.name === only.node)!;
  return { feasible: true, nodeId: node.id, node: node.name, gpus: only.gpus, claimBytes: plan.claimBytesPerGpu ?? req.memoryBytes, plan };
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
