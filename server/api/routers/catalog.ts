import { listCatalog, registerVersion, registerVersionSchema } from '../../lifecycle/catalog';
import { roleProcedure, router } from '../trpc';

export const catalogRouter = router({
  list: roleProcedure('admin', 'engineer', 'viewer').query(({ ctx }) => listCatalog(ctx.db)),
  registerVersion: roleProcedure('admin', 'engineer')
    .input(registerVersionSchema)
    .mutation(({ ctx, input }) => registerVersion(ctx.db, input)),
});
