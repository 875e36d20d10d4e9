import { and, eq, lt, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { loadTestSamples, loadTests } from '../../db/schema';
import { enqueue } from '../../core/queues';
import { revokeApiKey } from '../../security/api-keys';
import { ABANDONED_AFTER_MS } from './store';

/**
 * A running load test whose worker wrote no progress (every 500 ms) for this long has lost its worker:
 * another worker may take it over. Far above any pause of a live writer, well below ABANDONED_AFTER_MS.
 */
export const TAKEOVER_AFTER_MS = 20_000;
/** Runs of one load test (the first included) before a run that keeps losing its worker is left to fail. */
export const MAX_LOAD_TEST_ATTEMPTS = 3;

/** When the row's worker last showed life: its last progress write, else its start. */
const lastSign = sql<number>`coalesce((${loadTests.progress}->>'heartbeatAt')::double precision, extract(epoch from ${loadTests.startedAt}) * 1000)`;
const attemptOf = sql<number>`coalesce((${loadTests.progress}->>'attempt')::int, 1)`;

export type ClaimedLoadTest = { row: typeof loadTests.$inferSelect; attempt: number };

/**
 * Claims a load test for this worker: a queued one, or a running one whose worker went silent
 * (TAKEOVER_AFTER_MS) and that has attempts left. A taken-over run starts again from nothing (its
 * earlier samples deleted in the same transaction), so its result is one run's, never two half-runs'.
 * The attempt number fences the writers: a late write of the silent worker matches no row. The key the
 * silent attempt minted for the gateway is revoked.
 */
export async function claimLoadTest(db: Db, id: string, now = Date.now()): Promise<ClaimedLoadTest | undefined> {
  const claimed = await db.transaction(async (tx) => {
    // The silent attempt's minted key (if any), read before the claim replaces its progress.
    const [before] = await tx.select({ keyId: sql<string | null>`${loadTests.progress}->>'keyId'` }).from(loadTests).where(eq(loadTests.id, id)).for('update');
    const [row] = await tx
      .update(loadTests)
      .set({
        status: 'running',
        startedAt: new Date(now),
        progress: sql`jsonb_build_object('attempt', case when ${loadTests.status} = 'queued' then 1 else ${attemptOf} + 1 end, 'heartbeatAt', ${now}::double precision)`,
      })
      .where(
        and(
          eq(loadTests.id, id),
          or(eq(loadTests.status, 'queued'), and(eq(loadTests.status, 'running'), lt(lastSign, now - TAKEOVER_AFTER_MS), lt(attemptOf, MAX_LOAD_TEST_ATTEMPTS))),
        ),
      )
      .returning();
    if (!row) return undefined;
    const attempt = Number(row.progress.attempt);
    if (attempt > 1) await tx.delete(loadTestSamples).where(eq(loadTestSamples.loadTestId, id));
    return { row, attempt, staleKeyId: attempt > 1 ? before?.keyId : null };
  });
  if (!claimed) return undefined;
  // The dead worker never revoked the internal key it minted for its attempt: revoked here, not left for its 24 h expiry.
  if (claimed.staleKeyId) await revokeApiKey(db, claimed.row.ownerId, claimed.staleKeyId);
  return { row: claimed.row, attempt: claimed.attempt };
}

/**
 * Running load tests whose worker went silent get queued again (a no-op while BullMQ still holds the dead
 * worker's job: its stalled-job check hands that one on), so another worker takes them over. Returns their ids.
 */
export async function requeueSilentLoadTests(db: Db, now = Date.now()): Promise<string[]> {
  const rows = await db
    .select({ id: loadTests.id })
    .from(loadTests)
    .where(and(eq(loadTests.status, 'running'), lt(lastSign, now - TAKEOVER_AFTER_MS), sql`${lastSign} >= ${now - ABANDONED_AFTER_MS}`, lt(attemptOf, MAX_LOAD_TEST_ATTEMPTS)));
  for (const r of rows) await enqueue('loadtest', { loadTestId: r.id });
  return rows.map((r) => r.id);
}

/** The write guard of attempt `attempt`: the row still running, and still this attempt's. */
export const ownedBy = (id: string, attempt: number) => and(eq(loadTests.id, id), eq(loadTests.status, 'running'), sql`${attemptOf} = ${attempt}`);
