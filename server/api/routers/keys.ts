import { z } from 'zod';
import { ApiKeyInputError, createApiKey, listApiKeys, revokeApiKey } from '../../security/api-keys';
import { DomainError } from '../../core/errors';
import { authedProcedure, router } from '../trpc';

export const keysRouter = router({
  list: authedProcedure.query(({ ctx }) => listApiKeys(ctx.db, ctx.user.id)),

  /** The key is in this answer only: it is stored hashed. */
  create: authedProcedure
    .input(
      z.object({
        name: z.string().trim().min(1).max(100),
        models: z.array(z.string().trim().min(1).max(200)).min(1).max(100).optional(),
        expiresInDays: z.number().int().min(1).max(3650).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const expiresAt = input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null;
      try {
        const { id, key } = await createApiKey(ctx.db, { userId: ctx.user.id, name: input.name, models: input.models ?? null, expiresAt });
        return { id, key };
      } catch (e) {
        if (e instanceof ApiKeyInputError) throw new DomainError('BAD_REQUEST', e.message);
        throw e;
      }
    }),

  revoke: authedProcedure.input(z.object({ id: z.string().max(100) })).mutation(async ({ ctx, input }) => {
    if (!(await revokeApiKey(ctx.db, ctx.user.id, input.id))) throw new DomainError('NOT_FOUND', 'No such active key');
    return { id: input.id };
  }),
});
