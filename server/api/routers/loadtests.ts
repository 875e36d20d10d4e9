import { z } from 'zod';
import { compareLoadTests, loadTestHistograms } from '../../evaluation/loadtest/report';
import { cancelLoadTest, createLoadTest, createLoadTestSchema, getLoadTest, listLoadTests } from '../../evaluation/loadtest/store';
import { roleProcedure, router } from '../trpc';

const read = roleProcedure('admin', 'engineer', 'viewer');
const write = roleProcedure('admin', 'engineer');
const byId = z.object({ id: z.string().uuid() });

export const loadtestsRouter = router({
  list: read.query(({ ctx }) => listLoadTests(ctx.db, ctx.user)),
  get: read.input(byId).query(({ ctx, input }) => getLoadTest(ctx.db, ctx.user, input.id)),
  histograms: read.input(byId).query(({ ctx, input }) => loadTestHistograms(ctx.db, ctx.user, input.id)),
  compare: read
    .input(z.object({ ids: z.array(z.string().uuid()).min(2).max(8).refine((ids) => new Set(ids).size === ids.length, 'ids must be different runs') }))
    .query(({ ctx, input }) => compareLoadTests(ctx.db, ctx.user, input.ids)),
  create: write.input(createLoadTestSchema).mutation(({ ctx, input }) => createLoadTest(ctx.db, { masterKey: ctx.masterKey, gatewayUrl: ctx.gatewayUrl }, ctx.user, input)),
  cancel: write.input(byId).mutation(({ ctx, input }) => cancelLoadTest(ctx.db, ctx.user, input.id)),
});
