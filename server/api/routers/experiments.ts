import { z } from 'zod';
import { setFeedback } from '../../evaluation/experiments/feedback';
import { experimentReport } from '../../evaluation/experiments/report';
import { createExperimentSchema, feedbackSchema, windowSchema } from '../../evaluation/experiments/schemas';
import { createExperiment, listExperiments, promoteVariant, startExperiment, stopExperiment } from '../../evaluation/experiments/service';
import { latencyHistogram } from '../../evaluation/latency/histogram';
import { cacheHitRate, cacheRateSchema } from '../../evaluation/latency/cache-rate';
import { latencyOptions } from '../../evaluation/latency/options';
import { latencyQuerySchema } from '../../evaluation/latency/schemas';
import { requireLoadTest } from '../../evaluation/loadtest/store';
import { authedProcedure, roleProcedure, router } from '../trpc';

const read = roleProcedure('admin', 'engineer', 'viewer');
const write = roleProcedure('admin', 'engineer');
const byId = z.object({ id: z.string().uuid() });

export const experimentsRouter = router({
  list: read.query(({ ctx }) => listExperiments(ctx.db)),
  /** The experiment, per-variant figures and the verdict. */
  get: read.input(byId.merge(windowSchema)).query(({ ctx, input }) => experimentReport(ctx.db, input.id, input.hours)),
  create: write.input(createExperimentSchema).mutation(({ ctx, input }) => createExperiment(ctx.db, ctx.user, input)),
  /** Start, stop and promote: the experiment's creator or an admin. */
  start: write.input(byId).mutation(({ ctx, input }) => startExperiment(ctx.db, ctx.user, input.id)),
  stop: write.input(byId).mutation(({ ctx, input }) => stopExperiment(ctx.db, ctx.user, input.id)),
  promote: write.input(byId.extend({ variantId: z.string().uuid() })).mutation(({ ctx, input }) => promoteVariant(ctx.db, ctx.user, input.id, input.variantId)),
  /** Any signed-in user, on their own assistant messages only. */
  feedback: authedProcedure.input(feedbackSchema).mutation(({ ctx, input }) => setFeedback(ctx.db, ctx.user.id, input.messageId, input.rating)),
  latency: read.input(latencyQuerySchema).query(async ({ ctx, input }) => {
    // Load tests are visible to their owner (and admins): the same rule as the load-test pages.
    if (input.scope.kind === 'loadTest') await requireLoadTest(ctx.db, ctx.user, input.scope.id);
    return latencyHistogram(ctx.db, input);
  }),
  latencyOptions: read.query(({ ctx }) => latencyOptions(ctx.db, ctx.user)),
  /** The response cache's hit rate over the same window (request_logs.cache). */
  cacheRate: read.input(cacheRateSchema).query(({ ctx, input }) => cacheHitRate(ctx.db, input)),
});
