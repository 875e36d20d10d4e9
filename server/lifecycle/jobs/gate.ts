import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { jobs, modelVersions } from '../../db/schema';
import { DomainError } from '../../core/errors';
import { assertMayControl, loadJob, type Caller } from './access';
import { publishJobUpdate } from './live';
import { afterCommit } from '../../db/after-commit';

/** Perplexity change in percent: positive when the quantized model is worse. */
export const perplexityDeltaPct = (before: number, after: number) => ((after - before) / before) * 100;

/** The quality gate: within the limit passes; a rise beyond it (or a figure that is not a number) blocks. */
export function gateFor(deltaPct: number, maxDeltaPct: number): 'passed' | 'blocked' {
  return Number.isFinite(deltaPct) && deltaPct <= maxDeltaPct ? 'passed' : 'blocked';
}

export const MIN_OVERRIDE_REASON = 15;

/**
 * The job's owner (or an admin) accepts a blocked quantization anyway, saying why: the rule of every job
 * action (see assertMayControl). The call is audited by the API's mutation middleware (reason
 * included); the row keeps who and why so the job page shows it too.
 */
export async function overrideGate(db: Db, caller: Caller, id: string, reason: string) {
  const text = reason.trim();
  if (text.length < MIN_OVERRIDE_REASON) throw new DomainError('BAD_REQUEST', `reason: say why in at least ${MIN_OVERRIDE_REASON} characters`);
  const job = await loadJob(db, caller, id);
  assertMayControl(caller, job);
  if (job.gateStatus !== 'blocked') throw new DomainError('CONFLICT', job.gateStatus ? `The quality gate is ${job.gateStatus}, not blocked` : 'This job has no quality gate result');
  await db.update(jobs).set({ gateStatus: 'overridden', gateOverrideReason: text, gateOverriddenBy: caller.id, updatedAt: new Date() }).where(eq(jobs.id, id));
  await afterCommit(() => publishJobUpdate(id, { gateStatus: 'overridden' }));
  return { id, gateStatus: 'overridden' as const };
}

/**
 * Makes a candidate version usable for deployments; refused while the job that produced it has a blocked
 * gate. A version a job produced is that job's owner's (or an admin's) to promote, like every job action.
 */
export async function promoteVersion(db: Db, caller: Caller, versionId: string) {
  const [version] = await db.select().from(modelVersions).where(eq(modelVersions.id, versionId));
  if (!version) throw new DomainError('NOT_FOUND', 'Model version not found');
  if (version.producedByJobId) {
    const job = await loadJob(db, caller, version.producedByJobId);
    assertMayControl(caller, job);
    if (job.gateStatus === 'blocked') {
      throw new DomainError('CONFLICT', "The quality gate blocked this version: its perplexity rose beyond the limit. The job's owner must override the gate with a reason first");
    }
  }
  if (version.stage === 'promoted') return { id: versionId, stage: 'promoted' as const };
  await db.update(modelVersions).set({ stage: 'promoted' }).where(eq(modelVersions.id, versionId));
  return { id: versionId, stage: 'promoted' as const };
}
