import { z } from 'zod';
import { LEGAL_HOLD_SUBJECT_KINDS, RETENTION_SUBJECT_KINDS } from '../../db/schema';
import { liftLegalHold, listLegalHolds, MAX_HOLD_REASON, placeLegalHold } from '../../operations/retention/holds';
import { listRetentionPolicies, MAX_KEEP_DAYS, setRetentionPolicy } from '../../operations/retention/policies';
import { roleProcedure, router } from '../trpc';

const admin = roleProcedure('admin');

/** Retention policies per classification level, and legal holds (issue 13, part 3). Admins only; every change is audited by the guard. */
export const retentionRouter = router({
  policies: admin.query(({ ctx }) => listRetentionPolicies(ctx.db)),
  /** keepDays null: kept forever. */
  setPolicy: admin
    .input(z.strictObject({ subjectKind: z.enum(RETENTION_SUBJECT_KINDS), level: z.number().int().min(0).max(3), keepDays: z.number().int().min(1).max(MAX_KEEP_DAYS).nullable() }))
    .mutation(({ ctx, input }) => setRetentionPolicy(ctx.db, { ...input, updatedBy: ctx.user.id })),
  holds: admin.query(({ ctx }) => listLegalHolds(ctx.db)),
  placeHold: admin
    .input(z.strictObject({ subjectKind: z.enum(LEGAL_HOLD_SUBJECT_KINDS), subjectId: z.uuid(), reason: z.string().max(MAX_HOLD_REASON) }))
    .mutation(({ ctx, input }) => placeLegalHold(ctx.db, { ...input, placedBy: ctx.user.id })),
  liftHold: admin.input(z.strictObject({ id: z.uuid() })).mutation(({ ctx, input }) => liftLegalHold(ctx.db, input.id, ctx.user.id)),
});
