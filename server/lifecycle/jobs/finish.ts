import fs from 'node:fs';
import { and, eq, isNotNull } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { jobs, models, modelVersions } from '../../db/schema';
import { errorMessage } from '../../core/log';
import { registerVersion } from '../catalog';
import type { JobRow } from './access';
import type { FollowOutcome } from './follower';
import { gateFor, perplexityDeltaPct } from './gate';
import { publishJobUpdate } from './live';
import { releaseJobAllocations } from '../../gpu/placement/jobs';
import { loadModelConfig } from '../../gpu/placement/config-file';
import { deleteDirectory, type ArtifactStore } from '../../artifacts';
import { storeOutputDirectory, uploadedOutput, type OutputDirKind, type UploadedOutput } from './output-artifact';

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
    /** Its files as a joined agent uploaded them: registered from the store, not from a location on this host. */
    uploaded?: UploadedOutput;
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
  }, out.uploaded ? { sizeBytes: out.uploaded.sizeBytes, sha256: null, dtype: out.uploaded.dtype } : undefined);
  // With its files in the store, what the planner reads of them is kept too: a worker without them plans a deployment of it.
  const config = out.uploaded ? out.uploaded.config : out.artifactKey && out.format !== 'lora-adapter' ? recordedConfig(out.format, out.location) : null;
  await db.update(modelVersions).set({ producedByJobId: job.id, stage: out.stage, artifactKey: out.artifactKey ?? null, config }).where(eq(modelVersions.id, id));
  return id;
}

/** The estimator's input for a version's files, as JSON (a GGUF header's rare 64-bit values as numbers). */
function recordedConfig(format: string, location: string): unknown {
  return JSON.parse(JSON.stringify(loadModelConfig({ format, location }), (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)));
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

/**
 * A job's directory outputs sealed into the artifact store before any version of them is registered (a
 * registered version always has its objects). Only where this host holds them: a trainer on a joined
 * agent's host keeps them there (its versions are paths on that host, as before). A job whose versions
 * exist already (finishing again after a crash) seals nothing twice. On a failure, what was sealed goes.
 */
class OutputSealer {
  private readonly stored: string[] = [];
  private readonly uploads = new Map<OutputDirKind, UploadedOutput>();
  private constructor(
    private readonly artifacts: ArtifactStore | undefined,
    private readonly jobId: string,
  ) {}

  static async for(db: Db, jobId: string, artifacts: ArtifactStore | undefined): Promise<OutputSealer> {
    const [done] = await db.select({ id: modelVersions.id }).from(modelVersions).where(and(eq(modelVersions.producedByJobId, jobId), isNotNull(modelVersions.artifactKey))).limit(1);
    return new OutputSealer(done ? undefined : artifacts, jobId);
  }

  /**
   * The output's index key: the directory a joined agent uploaded for it (see output-upload.ts), or this
   * host's directory sealed now. Undefined without a store, or when neither exists here.
   */
  async seal(kind: OutputDirKind, dir: string | undefined, format: 'hf' | 'lora-adapter'): Promise<string | undefined> {
    if (!this.artifacts || !dir) return undefined;
    const uploaded = await uploadedOutput(this.artifacts, this.jobId, kind, format);
    if (uploaded) {
      this.uploads.set(kind, uploaded);
      this.stored.push(uploaded.key);
      return uploaded.key;
    }
    if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return undefined;
    const key = await storeOutputDirectory(this.artifacts, this.jobId, kind, dir);
    this.stored.push(key);
    return key;
  }

  /** What registration takes from an uploaded output (undefined: the files are read on this host). */
  uploaded(kind: OutputDirKind): UploadedOutput | undefined {
    return this.uploads.get(kind);
  }

  async discard(): Promise<void> {
    for (const key of this.stored) await deleteDirectory(this.artifacts!, key).catch(() => undefined);
  }
}

/**
 * A fine-tune's done event: the adapter becomes a lora-adapter version of the base, the merge (if any) an
 * hf version; both sealed into `artifacts` first when given (see OutputSealer).
 */
export async function finishFinetune(db: Db, job: JobRow, outcome: FollowOutcome & { done: NonNullable<FollowOutcome['done']> }, artifacts?: ArtifactStore): Promise<void> {
  const adapterPath = outcome.done.adapter_path ?? outcome.done.output_path!;
  const spec = job.spec as { merge?: boolean };
  const mergedPath = spec.merge && outcome.done.adapter_path && outcome.done.output_path ? outcome.done.output_path : undefined;
  const sealer = await OutputSealer.for(db, job.id, artifacts);
  let registered = false;
  try {
    const adapterKey = await sealer.seal('adapter', adapterPath, 'lora-adapter');
    const mergedKey = await sealer.seal('merged', mergedPath, 'hf');
    const adapterId = await registerJobOutput(db, job, {
      version: `ft-${short(job.id)}`,
      format: 'lora-adapter',
      location: adapterPath,
      parentVersionId: job.baseVersionId!,
      stage: 'promoted',
      artifactKey: adapterKey,
      uploaded: sealer.uploaded('adapter'),
    });
    registered = true;
    const mergedId = mergedPath
      ? await registerJobOutput(db, job, { version: `ft-${short(job.id)}-merged`, format: 'hf', location: mergedPath, parentVersionId: adapterId, stage: 'promoted', artifactKey: mergedKey, uploaded: sealer.uploaded('merged') })
      : undefined;
    const evalLoss = typeof outcome.lastEval?.eval_loss === 'number' ? outcome.lastEval.eval_loss : null;
    await markSucceeded(db, job.id, {
      outputVersionId: mergedId ?? adapterId,
      result: {
        adapterPath,
        adapterVersionId: adapterId,
        ...(adapterKey ? { adapterArtifact: adapterKey } : {}),
        ...(mergedId ? { mergedPath, mergedVersionId: mergedId, ...(mergedKey ? { mergedArtifact: mergedKey } : {}) } : {}),
        ...(spec.merge && !mergedId ? { mergeNote: 'merge was asked for but the trainer reported no merged output' } : {}),
        evalLoss,
      },
    });
  } catch (e) {
    if (!registered) await sealer.discard();
    await markFailed(db, job.id, `training finished but its adapter could not be ${registered ? 'registered' : 'stored and registered'}: ${errorMessage(e)}`);
  }
}

/**
 * An HF quantization's done event: the output (an FP16/INT8 checkpoint directory) is sealed into
 * `artifacts` when given, then becomes a candidate hf version, promoted when the gate passes.
 */
export async function finishHfQuantize(db: Db, job: JobRow, outcome: FollowOutcome & { done: NonNullable<FollowOutcome['done']> }, artifacts?: ArtifactStore): Promise<void> {
  const spec = job.spec as { target: string; maxPerplexityDeltaPct: number };
  const before = outcome.lastEval?.perplexity_before;
  const after = outcome.lastEval?.perplexity_after;
  const deltaPct = typeof before === 'number' && typeof after === 'number' ? perplexityDeltaPct(before, after) : Number.NaN;
  const gate = gateFor(deltaPct, spec.maxPerplexityDeltaPct);
  const sealer = await OutputSealer.for(db, job.id, artifacts);
  let registered = false;
  try {
    const location = outcome.done.output_path ?? outcome.done.adapter_path!;
    const artifactKey = await sealer.seal('quantized', location, 'hf');
    const id = await registerJobOutput(db, job, {
      version: `${spec.target}-${short(job.id)}`,
      format: 'hf',
      location,
      quantization: spec.target,
      parentVersionId: job.baseVersionId!,
      stage: gate === 'passed' ? 'promoted' : 'candidate',
      artifactKey,
      uploaded: sealer.uploaded('quantized'),
    });
    registered = true;
    await markSucceeded(db, job.id, {
      outputVersionId: id,
      gateStatus: gate,
      result: { outputPath: location, ...(artifactKey ? { artifact: artifactKey } : {}), perplexityBefore: before ?? null, perplexityAfter: after ?? null, deltaPct: Number.isFinite(deltaPct) ? deltaPct : null, maxDeltaPct: spec.maxPerplexityDeltaPct },
    });
  } catch (e) {
    if (!registered) await sealer.discard();
    await markFailed(db, job.id, `quantization finished but its output could not be ${registered ? 'registered' : 'stored and registered'}: ${errorMessage(e)}`);
  }
}
