import { z } from 'zod';
import { listAudit, verifyAuditChain } from '../../security/audit';
import { roleProcedure, router } from '../trpc';

const admin = roleProcedure('admin');

export const auditRouter = router({
  list: admin
    .input(z.object({ limit: z.number().int().min(1).max(500).default(100), beforeId: z.number().int().positive().optional() }))
    .query(({ ctx, input }) => listAudit(ctx.db, input)),
  verify: admin.query(({ ctx }) => verifyAuditChain(ctx.db)),
});
