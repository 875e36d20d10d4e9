import { z } from 'zod';
import { afterCommit } from '../../db/after-commit';
import { db as processDb } from '../../db/client';
import { createDrillRow, getDrill, listDrills, runDrillInBackground } from '../../operations/backup/drills';
import { listBackups } from '../../operations/backup/list';
import { codeSchemaVersion } from '../../operations/backup/schema-version';
import { databaseOwnerUrl } from '../../services/infrastructure';
import { roleProcedure, router } from '../trpc';

const admin = roleProcedure('admin');

/** Backups and restore drills (issue 13, part 5). Admins only; starting a drill is audited by the guard, its outcome by the drill. */
export const backupsRouter = router({
  /** Every backup (newest first, from its manifest), the recent drills, and this code's schema version. */
  list: admin.query(async ({ ctx }) => ({ ...(await listBackups(ctx.env)), drills: await listDrills(ctx.db, 20), schema: codeSchemaVersion().tag })),
  /** One drill's row: phase and progress while it runs, then its report. */
  drill: admin.input(z.strictObject({ id: z.uuid() })).query(({ ctx, input }) => getDrill(ctx.db, input.id)),
  /** Restores a backup (the newest when none is named) into a scratch database and compares; follow it with `drill`. */
  startDrill: admin
    .input(z.strictObject({ backupId: z.string().regex(/^enclave-[A-Za-z0-9-]{1,80}$/, 'must be a backup id (enclave-…)').optional() }))
    .mutation(async ({ ctx, input }) => {
      const row = await createDrillRow(ctx.db, { env: ctx.env, backupId: input.backupId, startedBy: ctx.user.id });
      // After the commit, on the process's own pool: the mutation's transaction is gone by then.
      await afterCommit(() =>
        runDrillInBackground({
          ...row,
          db: processDb(),
          env: ctx.env,
          masterKey: ctx.masterKey,
          startedBy: ctx.user.id,
          serverUrl: databaseOwnerUrl() ?? process.env.DATABASE_URL!,
        }),
      );
      return { id: row.id, backupId: row.backupId };
    }),
});
