import { z } from 'zod';
import { JOB_KINDS, JOB_STATUSES } from '../../db/schema';
import { finetuneSpecSchema } from '../../lifecycle/finetune/spec';
import { createFinetuneJob, createQuantizeJob, estimateFinetune } from '../../lifecycle/jobs/create';
import { overrideGate, promoteVersion } from '../../lifecycle/jobs/gate';
import { lineage } from '../../lifecycle/jobs/lineage';
import { cancelJob, getJob, jobLogs, jobMetricSeries, listJobs } from '../../lifecycle/jobs/queries';
import { quantizeSpecSchema } from '../../lifecycle/jobs/quantize-spec';
import { roleProcedure, router } from '../trpc';
import { jobEvents } from './job-events';

// Fleet pages: engineers and admins act, viewers read (plain users only chat; see page-guard.ts).
const read = roleProcedure('admin', 'engineer', 'viewer');
const write = roleProcedure('admin', 'engineer');
const byId = z.object({ id: z.string().uuid() });

export const jobsRouter = router({
  /** Starts a LoRA fine-tune: validates the spec, checks the base and dataset, estimates memory, queues it. → { id } */
  createFinetune: write.input(finetuneSpecSchema).mutation(({ ctx, input }) => createFinetuneJob(ctx.db, ctx.user, input)),
  /** Starts a quantization (GGUF f16/q8_0 on the worker's CPU; HF fp16/w8a8-int8/fp8-dynamic on a GPU). → { id } */
  createQuantize: write.input(quantizeSpecSchema).mutation(({ ctx, input }) => createQuantizeJob(ctx.db, ctx.user, input)),
  /** Jobs, newest first, with owner email, progress and result. */
  list: read
    .input(z.object({ kind: z.enum(JOB_KINDS).optional(), status: z.enum(JOB_STATUSES).optional(), limit: z.number().int().min(1).max(500).optional() }).optional())
    .query(({ ctx, input }) => listJobs(ctx.db, ctx.user, input ?? {})),
  /** One job: status, waiting reason, progress (step, totalSteps, loss, learningRate, etaSeconds), log tail, gate. */
  get: read.input(byId).query(({ ctx, input }) => getJob(ctx.db, ctx.user, input.id)),
  /** Chart points: { kind: 'step' | 'eval', step, at, values: { loss, learning_rate, ... } }, only steps after sinceStep when given. */
  metrics: read
    .input(byId.extend({ sinceStep: z.number().int().min(0).optional() }))
    .query(({ ctx, input }) => jobMetricSeries(ctx.db, ctx.user, input.id, input.sinceStep)),
  /** The job's updates as they happen (see job-events.ts). */
  events: jobEvents,
  /** The trainer's last log lines. → { lines } */
  logs: read.input(byId).query(({ ctx, input }) => jobLogs(ctx.db, ctx.user, input.id)),
  /** Cancels a job (its owner or an admin): at once when not started, else the worker stops the process and frees the GPUs. */
  cancel: write.input(byId).mutation(({ ctx, input }) => cancelJob(ctx.db, ctx.user, input.id)),
  /** Accepts a blocked quality gate with a reason (audited, reason included). */
  overrideGate: write
    .input(byId.extend({ reason: z.string().max(2000) }))
    .mutation(({ ctx, input }) => overrideGate(ctx.db, ctx.user, input.id, input.reason)),
  /** Promotes a candidate version; refused while its quantization's gate is blocked. */
  promoteVersion: write.input(z.object({ versionId: z.string().uuid() })).mutation(({ ctx, input }) => promoteVersion(ctx.db, ctx.user, input.versionId)),
  /** Memory per GPU (with its breakdown) and where a fine-tune would be placed now (on the worker's host, as the runner will), without creating it. */
  estimate: read.input(finetuneSpecSchema).query(({ ctx, input }) => estimateFinetune(ctx.db, ctx.user, input)),
  /** A version's family: { rootId, nodes (with parent and producing job), edges, deployments using them }. */
  lineage: read.input(z.object({ versionId: z.string().uuid() })).query(({ ctx, input }) => lineage(ctx.db, input.versionId)),
});
