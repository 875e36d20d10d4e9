import { z } from 'zod';
import type { Db } from '../../db/client';
import { DomainError } from '../../core/errors';
import { deploymentSpecSchema } from '../../engines/deployment-spec';
import { isGpuEngine } from '../../db/schema';
import { choosePlacement } from './claims';
import type { PlacementClaim } from './learned-claim';

export const dryRunSchema = z.object({ modelVersionId: z.string().uuid().optional(), spec: deploymentSpecSchema });

export interface PerGpu {
  weightsBytes: number;
  kvCacheBytes: number;
  activationBytes: number;
  overheadBytes: number;
}

export interface DryRunEstimate {
  claimPerGpu: PlacementClaim;
  /** The breakdown and sequence count for a split; shown even when nothing fits. */
  breakdown(tp: number, pp: number): { perGpu: PerGpu; maxConcurrentSequences: number | null };
}

const ZERO: PerGpu = { weightsBytes: 0, kvCacheBytes: 0, activationBytes: 0, overheadBytes: 0 };

/** What deploying would do now, without writing anything: the planner's answer and the estimate. */
export async function dryRun(db: Db, raw: z.input<typeof dryRunSchema>, estimateFor: (modelVersionId: string, spec: z.infer<typeof deploymentSpecSchema>) => Promise<DryRunEstimate | undefined>) {
  const { modelVersionId, spec } = dryRunSchema.parse(raw);
  if (spec.engine === 'upstream') return { feasible: true, tp: null, pp: null, placements: [], perGpuBytes: 0, perGpu: ZERO, maxConcurrentSequences: null, reasons: [], basis: null };
  if (!modelVersionId) throw new DomainError('BAD_REQUEST', `modelVersionId: a ${spec.engine} deployment needs a model version`);
  const estimate = isGpuEngine(spec.engine) ? await estimateFor(modelVersionId, spec) : undefined;
  const choice = await choosePlacement(db, spec, { policy: 'binpack', claimPerGpu: estimate?.claimPerGpu });
  const tp = choice.plan?.tp ?? spec.tp ?? 1;
  const pp = choice.plan?.pp ?? spec.pp;
  const shown = estimate?.breakdown(tp, pp);
  const perGpu = shown?.perGpu ?? ZERO;
  return {
    feasible: choice.feasible,
    tp: spec.engine === 'llamacpp' ? null : tp,
    pp: spec.engine === 'llamacpp' ? null : pp,
    // A vLLM replica across hosts: the head (rank 0) first, then each other host in rank order.
    placements: choice.feasible ? [{ node: choice.node, gpus: choice.gpus }, ...(choice.members ?? []).map((m) => ({ node: m.node, gpus: m.gpus }))] : [],
    perGpuBytes: perGpu.weightsBytes + perGpu.kvCacheBytes + perGpu.activationBytes + perGpu.overheadBytes,
    perGpu,
    maxConcurrentSequences: shown?.maxConcurrentSequences ?? null,
    reasons: choice.feasible ? [] : choice.reasons,
    /** What the claim came from: a measured start ("measured on … start of …") or the estimate. */
    basis: choice.feasible ? (choice.basis ?? null) : null,
  };
}
