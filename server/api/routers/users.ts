import { z } from 'zod';
import { ROLES } from '../../db/schema';
import { createUser, listUsers, setUserDisabled, setUserRole } from '../../security/users';
import { roleProcedure, router } from '../trpc';

const admin = roleProcedure('admin');
const id = z.uuid();

export const usersRouter = router({
  list: admin.query(({ ctx }) => listUsers(ctx.db)),
  create: admin
    .input(z.object({ email: z.string().max(254), password: z.string().max(1024), role: z.enum(ROLES), name: z.string().max(200).optional() }))
    .mutation(({ ctx, input }) => createUser(ctx.db, input)),
  setRole: admin.input(z.object({ id, role: z.enum(ROLES) })).mutation(({ ctx, input }) => setUserRole(ctx.db, input.id, input.role)),
  setDisabled: admin.input(z.object({ id, disabled: z.boolean() })).mutation(({ ctx, input }) => setUserDisabled(ctx.db, input.id, input.disabled)),
});
