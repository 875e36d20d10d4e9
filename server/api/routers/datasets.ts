import { z } from 'zod';
import { Datasets } from '../../lifecycle/datasets/access';
import { artifactStore } from '../../artifacts';
import type { ApiContext } from '../context';
import { roleProcedure, router } from '../trpc';

const byId = z.object({ id: z.string().max(100) });
const engineers = roleProcedure('admin', 'engineer');

/** Datasets scoped to the caller (admins see everyone's); uploads go through POST /api/datasets. */
function datasetsFor(ctx: ApiContext & { user: NonNullable<ApiContext['user']> }) {
  return new Datasets(ctx.db, ctx.masterKey, { ...ctx.user, clientAddress: ctx.clientAddress }, artifactStore(ctx.env, ctx.db, ctx.masterKey));
}

export const datasetsRouter = router({
  list: engineers.query(({ ctx }) => datasetsFor(ctx).list()),
  get: engineers.input(byId).query(({ ctx, input }) => datasetsFor(ctx).get(input.id)),
  preview: engineers
    .input(byId.extend({ limit: z.number().int().min(1).max(100).default(10) }))
    .query(({ ctx, input }) => datasetsFor(ctx).preview(input.id, input.limit)),
  delete: engineers.input(byId).mutation(({ ctx, input }) => datasetsFor(ctx).delete(input.id)),
});
