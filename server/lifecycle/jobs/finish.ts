import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { jobs, models, modelVersions } from '../../db/schema';
import { errorMessage } from '../../core/log';
import { registerVersion } from '../catalog';
import type { JobRow } from './access';
import type { FollowOutcome } from './follower';
import { gateFor, perplexityDeltaPct } from './gate';
import { publishJobUpdate } from './live';
import { releaseJobAllocations } from '../../gpu/placement/jobs';

const short = (id: string) => id.slice(0, 8);

async function modelNameOf(db: Db, versionId: string): Promise<string> {
  const [row] = await db.select({ name: models.name }).from(modelVersions).innerJoin(models, eq(models.id, modelVersions.modelId)).where(eq(modelVersions.id, versionId));
  return row!.name;
}

/**
 * Registers a job's output under the source's model (lineage: parent = source, produced_by_job_id = job).
 * Idempotent per job and version name, so finishing twice after a worker crash registers once.
 */
export async function registerJobOutput(
  db: Db,
  job: Pick<JobRow, 'id' | 'baseVersionId'>,
  out: {
    version: string;
    format: 'hf' | 'gguf' | 'lora-adapter';
    location: string;
    parentVersionId: string;
    quantization?: string;
    stage: 'candidate' | 'promoted';
    /** The output's sealed copy in the artifact store (see output-artifact.ts). */
    artifactKey?: string;
  },
): Promise<string> {
  const [existing] = await db
    .select({ id: modelVersions.id })
    .from(modelVersions)
    .where(and(eq(modelVersions.producedByJobId, job.id), eq(modelVersions.version, out.version)));
  if (existing) return existing.id;
  const { id } = await registerVersion(db, {
    modelName: await modelNameOf(db, out.parentVersionId),
    version: out.version,
    format: out.format,
    location: out.location,
    quantization: out.quantization,
    parentVersionId: out.parentVersionId,
  });
  await db.update(modelVersions).set({ producedByJobId: job.id, stage: out.stage, artifactKey: out.artifactKey ?? null }).where(eq(modelVersions.id, id));
  return id;
}

export async function markFailed(db: Db, jobId: string, message: string): Promise<void> {
  const now = new Date();
  await db.transaction(async (tx) => {
    await releaseJobAllocations(tx, jobId);
    await tx.update(jobs).set({ status: 'failed', error: message.slice(0, 4000), pid: null, finishedAt: now, updatedAt: now }).where(eq(jobs.id, jobId));
  });
  await publishJobUpdate(jobId, { status: 'failed', error: message });
}

export async function markCancelled(db: Db, jobId: string): Promise<void> {
  const now = new Date();
  await db.transaction(async (tx) => {
    await releaseJobAllocations(tx, jobId);
    await tx.update(jobs).set({ status: 'cancelled', pid: null, finishedAt: now, updatedAt: now }).where(eq(jobs.id, jobId));
  });
  await publishJobUpdate(jobId, { status: 'cancelled' });
}

export async function markSucceeded(db: Db, jobId: string, set: Partial<typeof jobs.$inferInsert>): Promise<void> {
  const now = new Date();
  await db.transaction(async (tx) => {
    await releaseJobAllocations(tx, jobId);
    await tx.update(jobs).set({ ...set, status: 'succeeded', pid: null, error: null, finishedAt: now, updatedAt: now }).where(eq(jobs.id, jobId));
  });
  await publishJobUpdate(jobId, { status: 'succeeded', outputVersionId: set.outputVersionId });
}

/** A fine-tune's done event: the adapter becomes a lora-adapter version of the base, the merge (if any) an hf version. */
export async function finishFinetune(db: Db, job: JobRow, outcome: FollowOutcome & { done: NonNullable<FollowOutcome['done']> }): Promise<void> {
  const adapterPath = outcome.done.adapter_path ?? outcome.done.output_path!;
  const spec = job.spec as { merge?: boolean };
  try {
    const adapterId = await registerJobOutput(db, job, { version: `ft-${short(job.id)}`, format: 'lora-adapter', location: adapterPath, parentVersionId: job.baseVersionId!, stage: 'promoted' });
    const mergedPath = spec.merge && outcome.done.adapter_path && outcome.done.output_path ? outcome.done.output_path : undefined;
    const mergedId = mergedPath
      ? await registerJobOutput(db, job, { version: `ft-${short(job.id)}-merged`, format: 'hf', location: mergedPath, parentVersionId: adapterId, stage: 'promoted' })
      : undefined;
    const evalLoss = typeof outcome.lastEval?.eval_loss === 'number' ? outcome.lastEval.eval_loss : null;
    await markSucceeded(db, job.id, {
      outputVersionId: mergedId ?? adapterId,
      result: {
        adapterPath,
        adapterVersionId: adapterId,
        ...(mergedId ? { mergedPath, mergedVersionId: mergedId } : {}),
        ...(spec.merge && !mergedId ? { mergeNote: 'merge was asked for but the trainer reported no merged output' } : {}),
        evalLoss,
      },
    });
  } catch (e) {
    await markFailed(db, job.id, `training finished but its adapter could not be registered: ${errorMessage(e)}`);
  }
}

/** An HF quantization's done event: the output is a candidate hf version, promoted when the gate passes. */
export async function finishHfQuantize(db: Db, job: JobRow, outcome: FollowOutcome & { done: NonNullable<FollowOutcome['done']> }): Promise<void> {
  const spec = job.spec as { target: string; maxPerplexityDeltaPct: number };
  const before = outcome.lastEval?.perplexity_before;
  const after = outcome.lastEval?.perplexity_after;
  const deltaPct = typeof before === 'number' && typeof after === 'number' ? perplexityDeltaPct(before, after) : Number.NaN;
  const gate = gateFor(deltaPct, spec.maxPerplexityDeltaPct);
  try {
    const location = outcome.done.output_path ?? outcome.done.adapter_path!;
    const id = await registerJobOutput(db, job, {
      version: `${spec.target}-${short(job.id)}`,
      format: 'hf',
      location,
      quantization: spec.target,
      parentVersionId: job.baseVersionId!,
      stage: gate === 'passed' ? 'promoted' : 'candidate',
    });
    await markSucceeded(db, job.id, {
      outputVersionId: id,
      gateStatus: gate,
      result: { outputPath: location, perplexityBefore: before ?? null, perplexityAfter: after ?? null, deltaPct: Number.isFinite(deltaPct) ? deltaPct : null, maxDeltaPct: spec.maxPerplexityDeltaPct },
    });
  } catch (e) {
    await markFailed(db, job.id, `quantization finished but its output could not be registered: ${errorMessage(e)}`);
  }
}
