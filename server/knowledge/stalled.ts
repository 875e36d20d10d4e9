import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { kbDocuments } from '../db/schema';
import { env } from '../core/env';
import { enqueue, queue } from '../core/queues';
import { redis, redisKey } from '../core/redis';

const UNFINISHED = ['queued', 'parsing', 'embedding'] as const;

/** Sweeps that may find the same document stalled before it is marked failed (the third one fails it). */
export const MAX_DOCUMENT_STALLS = 3;

/** What the owner reads on a document whose processing kept stopping. */
export const STALLED_ERROR = 'Processing stopped three times before it finished; upload the document again, or ask your administrator to check the workers.';

/** What the owner reads on an unfinished document whose upload is no longer stored (no job could ever finish it). */
export const SOURCE_GONE_ERROR = 'The uploaded file is no longer stored; upload the document again.';

/** How long the stall count of a document is remembered after its last stall. */
const STALL_COUNT_TTL_S = 7 * 24 * 3600;

/**
 * How long an unfinished document may go without a change before it counts as stalled. The worker writes
 * progress after every embedding batch, and BullMQ's own stalled-job check hands a dead worker's job on
 * after its lock lapses (ENCLAVE_QUEUE_LOCK_MS), so this waits well past both.
 */
export function stalledAfterMs(): number {
  return Math.max(5 * 60_000, 4 * env().ENCLAVE_QUEUE_LOCK_MS);
}

const stallKey = (documentId: string) => redisKey('knowledge', 'stalls', documentId);

/** Forgets a document's stall count (its job ran to its end: ready, failed or deleted). */
export async function forgetStalls(documentId: string): Promise<void> {
  await redis().del(stallKey(documentId));
}

export interface StalledSweep {
  /** Queued again (no job held them). */
  requeued: string[];
  /** Marked failed: stalled MAX_DOCUMENT_STALLS times. */
  failed: string[];
}

/**
 * Documents left unfinished ('queued', 'parsing', 'embedding') with no change for `staleAfterMs` and no
 * waiting or running job in the knowledge queue: their worker died mid-job (and BullMQ gave the job up),
 * or Redis lost the job, or the enqueue after the upload failed. Each is queued again (the queue dedupes
 * by document id); the third time the same document is found so it is marked failed with a message its
 * owner can act on, instead of being retried for ever (a document that kills its worker would kill the
 * next one too). The count lives in Redis beside the queue, forgotten when a job runs to its end.
 */
export async function sweepStalledDocuments(db: Db, opts: { now?: number; staleAfterMs?: number; limit?: number } = {}): Promise<StalledSweep> {
  const before = new Date((opts.now ?? Date.now()) - (opts.staleAfterMs ?? stalledAfterMs()));
  const rows = await db
    .select({ id: kbDocuments.id, hasSource: sql<boolean>`${kbDocuments.sourceEnc} IS NOT NULL` })
    .from(kbDocuments)
    .where(and(inArray(kbDocuments.status, [...UNFINISHED]), lt(kbDocuments.updatedAt, before)))
    .orderBy(kbDocuments.updatedAt)
    .limit(opts.limit ?? 200);
  const out: StalledSweep = { requeued: [], failed: [] };
  const q = queue('knowledge');
  const fail = async (id: string, error: string) => {
    // Only if it is still as found: a worker that moved it on meanwhile wins.
    const marked = await db
      .update(kbDocuments)
      .set({ status: 'failed', error, updatedAt: new Date() })
      .where(and(eq(kbDocuments.id, id), inArray(kbDocuments.status, [...UNFINISHED]), lt(kbDocuments.updatedAt, before)))
      .returning({ id: kbDocuments.id });
    if (marked.length) out.failed.push(id);
    return marked.length > 0;
  };
  for (const { id, hasSource } of rows) {
    // Ingestion skips a document without its upload: queued again it would stay unfinished for ever.
    if (!hasSource) {
      await fail(id, SOURCE_GONE_ERROR);
      continue;
    }
    const job = await q.getJob(id);
    const state = job ? await job.getState() : 'unknown';
    // Waiting, delayed or running: the queue still has it (a dead worker's active job is BullMQ's to hand on).
    if (['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'].includes(state)) continue;
    // A finished job kept under the id would swallow the enqueue (the queue dedupes by id).
    if (job && (state === 'completed' || state === 'failed')) await job.remove().catch(() => {});
    const key = stallKey(id);
    const stalls = await redis().incr(key);
    await redis().expire(key, STALL_COUNT_TTL_S);
    if (stalls >= MAX_DOCUMENT_STALLS) {
      if (await fail(id, STALLED_ERROR)) await redis().del(key);
      continue;
    }
    await enqueue('knowledge', { documentId: id });
    out.requeued.push(id);
  }
  return out;
}
