import { z } from 'zod';
import { createTool, deleteTool, grantTool, listTools, revokeTool, updateTool, toolGrantInput, toolInput, toolUpdate } from '../../tools/store';
import { roleProcedure, router } from '../trpc';

// Tools reach out of the install with a signing secret: only admins see or change them.
const admin = roleProcedure('admin');

export const toolsRouter = router({
  list: admin.query(({ ctx }) => listTools(ctx.db)),
  create: admin.input(toolInput).mutation(({ ctx, input }) => createTool(ctx.db, ctx.masterKey, input, ctx.user.id)),
  update: admin.input(toolUpdate).mutation(({ ctx, input }) => updateTool(ctx.db, ctx.masterKey, input)),
  delete: admin.input(z.object({ id: z.string().uuid() })).mutation(({ ctx, input }) => deleteTool(ctx.db, input.id)),
  grant: admin.input(toolGrantInput).mutation(({ ctx, input }) => grantTool(ctx.db, input)),
  revoke: admin.input(toolGrantInput).mutation(({ ctx, input }) => revokeTool(ctx.db, input)),
});
