import type { Env } from '../core/env';
import { ensureAuditPartitions } from '../db/audit-partitions';
import type { Db } from '../db/client';
import { auditAnchorFile } from './audit-anchor-file';
import { archiveExpiredAuditMonths, auditArchiveDir, type ArchiveOutcome } from './audit-archive';
import { auditV1Calls } from './audit-v1-calls';

export interface AuditUpkeepResult {
  archive: ArchiveOutcome;
  v1: { hours: string[]; rows: number };
}

/** The maintenance worker's hourly audit task; an archive that fails keeps its month and is logged and audited, and the rest still runs. */
export async function runAuditUpkeep(db: Db, env: Env, now = new Date()): Promise<AuditUpkeepResult> {
  await ensureAuditPartitions(db, now);
  const archive = await archiveExpiredAuditMonths(
    db,
    { dir: auditArchiveDir(env), retentionDays: env.ENCLAVE_AUDIT_RETENTION_DAYS, anchorFile: auditAnchorFile(env) },
    now,
  );
  const v1 = await auditV1Calls(db, now);
  return { archive, v1 };
}
