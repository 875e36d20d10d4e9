import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { jobs, models, modelVersions } from '../../db/schema';
import { env } from '../../core/env';
import { EstimatorInputError, GiB, parameterCount } from '../../gpu/estimator';
import { errorMessage, log } from '../../core/log';
import { enqueue } from '../../core/queues';
import { DomainError } from '../../core/errors';
import { estimateTrainingMemory, modelShape, type TrainingMemoryEstimate } from '../finetune/memory';
import { finetuneSpecSchema, type FinetuneSpec, type FinetuneSpecInput } from '../finetune/spec';
import { loadModelConfig } from '../../gpu/placement/model-config';
import { usableDataset, type Caller } from './access';
import { chooseJobPlacement } from '../../gpu/placement/jobs';
import { isGgufTarget, quantizeSpecSchema, type QuantizeSpec, type QuantizeSpecInput } from './quantize-spec';
import { afterCommit } from '../../db/after-commit';

async function versionWithModel(db: Db, id: string, field: string) {
  const [row] = await db
    .select({ version: modelVersions, modelName: models.name })
    .from(modelVersions)
    .innerJoin(models, eq(models.id, modelVersions.modelId))
    .where(eq(modelVersions.id, id));
  if (!row) throw new DomainError('BAD_REQUEST', `${field}: no such model version`);
  return row;
}

/** The estimator's complaint about a config becomes the caller's error, naming the field. */
function readConfig(version: { format: string; location: string; config?: unknown }, field: string) {
  try {
    return loadModelConfig(version);
  } catch (e) {
    if (e instanceof DomainError) throw new DomainError('BAD_REQUEST', `${field}: ${e.message}`);
    throw new DomainError('BAD_REQUEST', `${field}: cannot read the model's configuration (${errorMessage(e)})`);
  }
}

function trainingEstimate(config: unknown, spec: FinetuneSpec): TrainingMemoryEstimate {
  try {
    return estimateTrainingMemory(config, spec);
  } catch (e) {
    if (e instanceof EstimatorInputError) throw new DomainError('BAD_REQUEST', `baseVersionId: ${e.message}`);
    throw e;
  }
}

async function finetuneBase(db: Db, spec: FinetuneSpec) {
  const base = await versionWithModel(db, spec.baseVersionId, 'baseVersionId');
  if (base.version.format !== 'hf') {
    throw new DomainError('BAD_REQUEST', `baseVersionId: fine-tunes start from a Hugging Face checkpoint (format hf); ${base.modelName} ${base.version.version} is ${base.version.format}`);
  }
  return base;
}

/** Queued work is idempotent by row id; if Redis is down now, the worker's sweep enqueues queued rows later. */
async function enqueueJob(id: string): Promise<void> {
  // The worker reads the row it is told about: only once that row is committed.
  await afterCommit(() => enqueue('training', { jobId: id }).catch((e) => log.warn('training enqueue failed; the sweep will retry', { job: id, error: errorMessage(e) })));
}

const stamp = () => new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '');

export async function createFinetuneJob(db: Db, caller: Caller, raw: FinetuneSpecInput): Promise<{ id: string }> {
  const spec = finetuneSpecSchema.parse(raw);
  const base = await finetuneBase(db, spec);
  await usableDataset(db, caller, spec.datasetId, 'datasetId');
  const memory = trainingEstimate(readConfig(base.version, 'baseVersionId'), spec);
  const [row] = await db
    .insert(jobs)
    .values({
      kind: 'finetune',
      name: spec.name ?? `${base.modelName}-lora-${stamp()}`,
      ownerId: caller.id,
      spec,
      baseVersionId: base.version.id,
      datasetId: spec.datasetId,
      memoryBytes: memory.perGpuBytes,
    })
    .returning({ id: jobs.id });
  await enqueueJob(row!.id);
  return row!;
}

/** GPU memory of quantize.py: the checkpoint in bf16 plus room for calibration batches and the CUDA context. */
export const QUANTIZE_HEADROOM_BYTES = 4 * GiB;

function hfQuantizeBytes(config: unknown): number {
  try {
    return parameterCount(modelShape(config)) * 2 + QUANTIZE_HEADROOM_BYTES;
  } catch (e) {
    if (e instanceof EstimatorInputError) throw new DomainError('BAD_REQUEST', `sourceVersionId: ${e.message}`);
    throw e;
  }
}

export async function createQuantizeJob(db: Db, caller: Caller, raw: QuantizeSpecInput): Promise<{ id: string }> {
  const input = quantizeSpecSchema.parse(raw);
  const spec: QuantizeSpec = { ...input, maxPerplexityDeltaPct: input.maxPerplexityDeltaPct ?? env().ENCLAVE_QUALITY_GATE_MAX_DELTA_PCT };
  const source = await versionWithModel(db, spec.sourceVersionId, 'sourceVersionId');
  const format = source.version.format;
  if (format === 'lora-adapter') throw new DomainError('BAD_REQUEST', 'sourceVersionId: an adapter cannot be quantized on its own; quantize its merged model');
  if (isGgufTarget(spec.target) !== (format === 'gguf')) {
    throw new DomainError('BAD_REQUEST', `target: ${spec.target} is for ${isGgufTarget(spec.target) ? 'GGUF files' : 'Hugging Face checkpoints'}; ${source.modelName} ${source.version.version} is ${format}`);
  }
  if (spec.evalDatasetId) await usableDataset(db, caller, spec.evalDatasetId, 'evalDatasetId');
  // A GGUF job runs on the worker's CPU: no GPU memory to claim.
  const memoryBytes = format === 'hf' ? hfQuantizeBytes(readConfig(source.version, 'sourceVersionId')) : null;
  const [row] = await db
    .insert(jobs)
    .values({
      kind: 'quantize',
      name: spec.name ?? `${source.modelName}-${spec.target}-${stamp()}`,
      ownerId: caller.id,
      spec,
      baseVersionId: source.version.id,
      datasetId: spec.evalDatasetId ?? null,
      memoryBytes,
    })
    .returning({ id: jobs.id });
  await enqueueJob(row!.id);
  return row!;
}

/** What a fine-tune would need per GPU and where it would go now, without creating anything. */
export async function estimateFinetune(db: Db, caller: Caller, raw: FinetuneSpecInput) {
  const spec = finetuneSpecSchema.parse(raw);
  const base = await finetuneBase(db, spec);
  await usableDataset(db, caller, spec.datasetId, 'datasetId');
  const memory = trainingEstimate(readConfig(base.version, 'baseVersionId'), spec);
  const choice = await chooseJobPlacement(db, { memoryBytes: memory.perGpuBytes, gpus: spec.gpus });
  return {
    memoryBytes: memory.perGpuBytes,
    perGpuBytes: memory.perGpuBytes,
    parameters: memory.parameters,
    loraParameters: memory.loraParameters,
    breakdown: memory.perGpu,
    explanation: memory.explanation,
    feasible: choice.feasible,
    node: choice.feasible ? choice.node : null,
    gpus: choice.feasible ? choice.gpus : null,
    placements: choice.feasible ? [{ node: choice.node, gpus: choice.gpus }] : [],
    reasons: choice.feasible ? [] : choice.reasons,
  };
}
