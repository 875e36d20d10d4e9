import { listModelsForRole } from '../../chat/models';
import { authedProcedure, router } from '../trpc';

export const modelsRouter = router({
  list: authedProcedure.query(({ ctx }) => listModelsForRole(ctx.db, ctx.user.role)),
});
