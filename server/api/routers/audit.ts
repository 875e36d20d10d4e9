import { z } from 'zod';
import { auditFilterSchema, listAuditFiltered } from '../../security/audit-query';
import { auditAnchors, verifyAudit } from '../../security/audit-anchor';
import { exportAnchors } from '../../security/audit-anchor-file';
import { roleProcedure, router } from '../trpc';

const admin = roleProcedure('admin');

export const auditRouter = router({
  /**
   * Newest first, filtered (actor, action, target, outcome, time range); `cursor` is the id the page
   * starts below (the last id of the page before), so a page deep in millions of rows costs what the
   * first does. Ids come with readable names (emails, key, deployment and group names).
   */
  list: admin
    .input(auditFilterSchema.extend({ limit: z.number().int().min(1).max(500).default(100), cursor: z.number().int().positive().nullish() }))
    .query(({ ctx, input: { limit, cursor, ...filter } }) => listAuditFiltered(ctx.db, filter, { limit, beforeId: cursor ?? undefined })),
  /** The chain and every checkpoint; when all holds, the verified head is checkpointed at once. */
  verify: admin.query(({ ctx }) => verifyAudit(ctx.db, auditAnchors(ctx.env, ctx.masterKey))),
  /** The anchor file as it is, to keep a copy where this install cannot reach (`enclave audit verify --anchors` checks it). */
  exportAnchors: admin.query(({ ctx }) => exportAnchors(auditAnchors(ctx.env, ctx.masterKey).file)),
});
