import { listModelsFor } from '../../chat/models';
import { authedProcedure, router } from '../trpc';

export const modelsRouter = router({
  list: authedProcedure.query(({ ctx }) => listModelsFor(ctx.db, ctx.user)),
});
