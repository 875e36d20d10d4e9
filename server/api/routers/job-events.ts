import { z } from 'zod';
import type { JobStatus } from '../../db/schema';
import { DomainError } from '../../core/errors';
import { isUuid } from '../../core/ids';
import { loadJob } from '../../lifecycle/jobs/access';
import { followJob } from '../../lifecycle/jobs/live';
import { getUserByToken } from '../../security/sessions';
import { eventQueue } from '../event-queue';
import { authedProcedure } from '../trpc';

const FINISHED = new Set<string>(['succeeded', 'failed', 'cancelled']);

/**
 * A subscription outlives the request that opened it: the session is read again this often, and a
 * session revoked, expired or whose user was disabled ends the stream (a page open for hours would
 * otherwise keep receiving updates after its sign-out elsewhere).
 */
export const SESSION_RECHECK_MS = 5_000;

/** What publishJobUpdate sends (figures and status, never dataset content); the page refetches on each. */
export type JobUpdate = { jobId: string; status?: JobStatus } & Record<string, unknown>;

function parseUpdate(jobId: string, message: string): JobUpdate {
  try {
    const parsed: unknown = JSON.parse(message);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return { ...(parsed as Record<string, unknown>), jobId };
  } catch {
    // not JSON: still an update, the page just refetches
  }
  return { jobId };
}

/**
 * One job's updates as a subscription (server-sent events, httpSubscriptionLink), fed by the Redis
 * messages the runner publishes after each commit, so the job page refreshes when something changed
 * instead of on a timer. First the current status; it ends when the job does. Visible to whoever may
 * read the job (jobScope: anyone else, and a malformed id, get "not found").
 */
export const jobEvents = authedProcedure.input(z.object({ id: z.string().max(100) })).subscription(async function* ({ ctx, input, signal }) {
  if (!isUuid(input.id)) throw new DomainError('NOT_FOUND', 'Job not found');
  const job = await loadJob(ctx.db, ctx.user, input.id);
  yield { jobId: job.id, status: job.status } as JobUpdate;
  if (FINISHED.has(job.status)) return;
  yield* eventQueue<JobUpdate>(async (emit) => {
    let ended!: () => void;
    const end = new Promise<void>((resolve) => (ended = resolve));
    let signedOut = false;
    const stop = await followJob(job.id, (message) => {
      const update = parseUpdate(job.id, message);
      emit(update);
      if (FINISHED.has(update.status ?? '')) ended();
    });
    const recheck = setInterval(() => {
      getUserByToken(ctx.db, ctx.sessionToken).then(
        (user) => {
          if (user) return;
          signedOut = true;
          ended();
        },
        () => undefined, // the database is away: the next check decides
      );
    }, SESSION_RECHECK_MS);
    if (signal?.aborted) ended();
    signal?.addEventListener('abort', () => ended(), { once: true });
    await end;
    clearInterval(recheck);
    await stop();
    if (signedOut) throw new DomainError('UNAUTHORIZED', 'Your session has ended: sign in again');
  });
});
