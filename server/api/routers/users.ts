import { z } from 'zod';
import { DomainError } from '../../core/errors';
import type { Env } from '../../core/env';
import { ROLES } from '../../db/schema';
import { resetPassword } from '../../security/password-change';
import { listSessions, revokeSession } from '../../security/sessions';
import { createUser, listUsers, setUserDisabled, setUserRole } from '../../security/users';
import { erasePerson, erasureReports } from '../../operations/retention/erasure';
import { roleProcedure, router } from '../trpc';

const admin = roleProcedure('admin');
const id = z.uuid();

export const usersRouter = router({
  list: admin.query(({ ctx }) => listUsers(ctx.db)),
  // The password an admin sets is one-time: its owner changes it at first sign-in.
  create: admin
    .input(z.object({ email: z.string().max(254), password: z.string().max(1024), role: z.enum(ROLES), name: z.string().max(200).optional() }))
    .mutation(({ ctx, input }) => createUser(ctx.db, { ...input, oneTime: true })),
  setRole: admin.input(z.object({ id, role: z.enum(ROLES) })).mutation(({ ctx, input }) => setUserRole(ctx.db, input.id, input.role)),
  setDisabled: admin.input(z.object({ id, disabled: z.boolean() })).mutation(({ ctx, input }) => setUserDisabled(ctx.db, input.id, input.disabled)),
  /** A new one-time password, answered once (the audit row keeps only the user's id); every session of theirs ends. */
  resetPassword: admin.input(z.strictObject({ id })).mutation(async ({ ctx, input }) => {
    const { oneTimePassword, revokedSessions } = await resetPassword(ctx.db, input.id, { history: ctx.env.ENCLAVE_PASSWORD_HISTORY });
    return { id: input.id, oneTimePassword, revokedSessions };
  }),
  /**
   * Deletes an account and everything that is theirs, their data keys destroyed (`delete`), or erases the
   * person (`erase`: the same, and their keys taken out of every backup). `confirmationText` must be their
   * email, typed again (its name keeps it out of the audit row). Answers the verification report.
   */
  delete: admin.input(z.strictObject({ id, confirmationText: z.string().max(254) })).mutation(({ ctx, input }) => removePerson(ctx, input, 'delete')),
  erase: admin.input(z.strictObject({ id, confirmationText: z.string().max(254) })).mutation(({ ctx, input }) => removePerson(ctx, input, 'erase')),
  /** The stored deletion and erasure reports (audit rows, so they outlive the accounts). */
  erasureReports: admin.query(({ ctx }) => erasureReports(ctx.db)),
  /** Anyone's live sessions. */
  sessions: admin.input(z.strictObject({ id })).query(({ ctx, input }) => listSessions(ctx.db, input.id, ctx.user.sessionId)),
  revokeSession: admin.input(z.strictObject({ id })).mutation(async ({ ctx, input }) => {
    if (!(await revokeSession(ctx.db, input.id, null))) throw new DomainError('NOT_FOUND', 'No such session');
    return { id: input.id };
  }),
});

function removePerson(ctx: { db: Parameters<typeof erasePerson>[0]; masterKey: Buffer; env: Env; user: { id: string; email: string }; clientAddress: string }, input: { id: string; confirmationText: string }, mode: 'delete' | 'erase') {
  return erasePerson(ctx.db, ctx.masterKey, {
    userId: input.id,
    mode,
    dataDir: ctx.env.dataDir,
    env: ctx.env,
    confirmation: input.confirmationText,
    actor: { userId: ctx.user.id, label: ctx.user.email, clientAddress: ctx.clientAddress },
  });
}
