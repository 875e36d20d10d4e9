import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { messages, replyStreams } from '../db/schema';
import { writeAudit } from '../security/audit';

/** Kept in the reply's metadata, so the UI and an export can say why the reply is cut short. */
export const INTERRUPTED_REASON = 'The server stopped while this reply was being written';

/**
 * Ends the streamed calls whose writer stopped renewing its lease (killed, crashed, machine gone):
 * their replies keep the text saved so far and are marked interrupted, and the call's audit row
 * (failure, INTERRUPTED) is written. One lease per transaction, claimed by deleting it: several
 * workers, or a late writer closing its own lease, never write a second row. Returns the leases ended.
 */
export async function sweepInterruptedReplies(db: Db, limit = 500): Promise<string[]> {
  const ended: string[] = [];
  while (ended.length < limit) {
    const id = await db.transaction(async (tx) => {
      const [lease] = await tx
        .select()
        .from(replyStreams)
        .where(lt(replyStreams.leaseUntil, sql`now()`))
        .limit(1)
        .for('update', { skipLocked: true });
      if (!lease) return undefined;
      await tx.delete(replyStreams).where(eq(replyStreams.id, lease.id));
      if (lease.messageIds.length)
        await tx
          .update(messages)
          .set({
            metadata: sql`(${messages.metadata} - 'streaming') || ${JSON.stringify({ interrupted: true, interruptedReason: INTERRUPTED_REASON, finishReason: 'interrupted', stopped: false })}::jsonb`,
          })
          .where(and(inArray(messages.id, lease.messageIds), sql`${messages.metadata}->>'streaming' = 'true'`));
      await writeAudit(tx, lease.audit);
      return lease.id;
    });
    if (!id) break;
    ended.push(id);
  }
  return ended;
}
