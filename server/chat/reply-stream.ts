import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { messages, replyStreams } from '../db/schema';
import { errorMessage, log } from '../core/log';
import { writeAudit, type AuditEntry } from '../security/audit';
import { encryptText } from '../security/encryption';
import type { Messages } from './messages';

/** The text streamed so far reaches the database at least this often, and after this many new bytes. */
export const CHECKPOINT_EVERY_MS = 1_000;
export const CHECKPOINT_BYTES = 4_096;

/** Metadata of a reply while it is written: the UI shows it as in progress; the sweep looks for it. */
export const STREAMING_METADATA = { streaming: true } as const;
const isStreaming = sql`${messages.metadata}->>'streaming' = 'true'`;

/**
 * The replies of one streamed call (a chat turn, an arena round) while they are written. Opening it
 * stores a lease with the audit row the call would leave if this process died; each reply is a row
 * from its first moment, its text saved (encrypted) every second or few KB; closing it deletes the
 * lease and writes the call's real audit row in the same transaction. A process killed mid-stream
 * leaves the lease to expire: the worker's sweep (interrupted-replies.ts) then marks the replies
 * interrupted, keeping what was saved, and writes the stored audit row. Deleting the lease is the
 * claim, so exactly one of the two writes the audit row.
 */
export class ReplyStream {
  private readonly drafts = new Set<ReplyDraft>();
  private readonly timer: NodeJS.Timeout;
  private renewedAt = Date.now();
  private renewing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly db: Db,
    private readonly masterKey: Buffer,
    readonly id: string,
    private readonly leaseMs: number,
  ) {
    this.timer = setInterval(() => this.tick(), Math.min(CHECKPOINT_EVERY_MS, leaseMs / 3));
    this.timer.unref();
  }

  /** `interrupted`: the audit row to write if this call never closes (outcome failure, error INTERRUPTED). */
  static async open(db: Db, masterKey: Buffer, input: { messageIds: string[]; interrupted: AuditEntry; leaseMs: number }): Promise<ReplyStream> {
    const [row] = await db
      .insert(replyStreams)
      .values({ messageIds: input.messageIds, leaseUntil: leaseUntil(input.leaseMs), audit: input.interrupted })
      .returning({ id: replyStreams.id });
    return new ReplyStream(db, masterKey, row!.id, input.leaseMs);
  }

  /** Creates the reply's row (empty, streaming) through the owner-scoped messages; its id must be one the lease names. */
  async begin(owned: Messages, input: { id: string; conversationId: string; parentId: string; model: string | null; metadata?: Record<string, unknown> }): Promise<ReplyDraft> {
    await owned.add({ ...input, role: 'assistant', content: '', metadata: { ...input.metadata, ...STREAMING_METADATA } });
    const draft = new ReplyDraft(this.db, this.masterKey, input.id, owned.userId);
    this.drafts.add(draft);
    return draft;
  }

  private tick(): void {
    for (const draft of this.drafts) if (draft.dirty) void draft.save();
    if (Date.now() - this.renewedAt < this.leaseMs / 3) return;
    this.renewedAt = Date.now();
    this.renewing = this.renewing.then(() =>
      this.db
        .update(replyStreams)
        .set({ leaseUntil: leaseUntil(this.leaseMs) })
        .where(eq(replyStreams.id, this.id))
        .then(
          () => undefined,
          (e) => log.warn('renewing a reply lease failed', { lease: this.id, error: errorMessage(e) }),
        ),
    );
  }

  /**
   * Ends the call: the lease is deleted and `audit` written in one transaction. False when the sweep
   * had already ended it (this process stalled past the lease): its INTERRUPTED row stands, no second.
   */
  async close(audit: AuditEntry): Promise<boolean> {
    this.stopTimer();
    await this.renewing;
    return this.db.transaction(async (tx) => {
      const [claimed] = await tx.delete(replyStreams).where(eq(replyStreams.id, this.id)).returning({ id: replyStreams.id });
      if (claimed) await writeAudit(tx, audit);
      return Boolean(claimed);
    });
  }

  /**
   * For a call failing on its way out, whose caller audits the failure: replies still streaming are
   * marked failed (keeping the text saved so far) and the lease goes, in one transaction. If even that
   * fails (the database is gone), the lease stays and the sweep settles the call later.
   */
  async release(error: string): Promise<void> {
    this.stopTimer();
    await this.renewing;
    await this.db
      .transaction(async (tx) => {
        const [lease] = await tx.delete(replyStreams).where(eq(replyStreams.id, this.id)).returning();
        if (lease?.messageIds.length)
          await tx
            .update(messages)
            .set({ metadata: sql`(${messages.metadata} - 'streaming') || ${JSON.stringify({ failed: true, error, stopped: false })}::jsonb` })
            .where(and(inArray(messages.id, lease.messageIds), isStreaming));
      })
      .catch((e) => log.warn('releasing a reply lease failed', { lease: this.id, error: errorMessage(e) }));
  }

  private stopTimer(): void {
    clearInterval(this.timer);
  }
}

/** One reply's text as it streams, saved in the background; every write to its row goes through one queue, in order. */
export class ReplyDraft {
  text = '';
  private savedLength = 0;
  private unsavedBytes = 0;
  private writes: Promise<void> = Promise.resolve();
  private finished = false;

  constructor(
    private readonly db: Db,
    private readonly masterKey: Buffer,
    readonly id: string,
    /** The conversation's owner: the reply is sealed under their data key, like their other messages. */
    private readonly ownerUserId: string,
  ) {}

  get dirty(): boolean {
    return !this.finished && this.text.length !== this.savedLength;
  }

  append(piece: string): void {
    this.text += piece;
    this.unsavedBytes += Buffer.byteLength(piece);
    if (this.unsavedBytes >= CHECKPOINT_BYTES) void this.save();
  }

  /** A checkpoint of the text so far; a failed one is logged and the next one tries again. */
  save(): Promise<void> {
    this.unsavedBytes = 0;
    this.writes = this.writes.then(async () => {
      if (!this.dirty) return;
      const text = this.text;
      try {
        await this.writeContent(text);
        this.savedLength = text.length;
      } catch (e) {
        log.warn('saving a streaming reply failed', { message: this.id, error: errorMessage(e) });
      }
    });
    return this.writes;
  }

  /**
   * The final text and metadata. If the sweep already marked the reply interrupted (this process
   * stalled past its lease), the text is still saved, since the user saw it, but the sweep's marker stays.
   */
  async finish(metadata: Record<string, unknown>): Promise<void> {
    this.finished = true;
    this.writes = this.writes.then(async () => {
      const { ciphertext, dataKeyId } = await encryptText(this.db, this.masterKey, this.text, this.ownerUserId);
      const [ended] = await this.db
        .update(messages)
        .set({ contentEnc: ciphertext, dataKeyId, metadata })
        .where(and(eq(messages.id, this.id), isStreaming))
        .returning({ id: messages.id });
      if (!ended) await this.db.update(messages).set({ contentEnc: ciphertext, dataKeyId }).where(eq(messages.id, this.id));
    });
    return this.writes;
  }

  private async writeContent(text: string): Promise<void> {
    const { ciphertext, dataKeyId } = await encryptText(this.db, this.masterKey, text, this.ownerUserId);
    await this.db.update(messages).set({ contentEnc: ciphertext, dataKeyId }).where(eq(messages.id, this.id));
  }
}

function leaseUntil(ms: number) {
  return sql`now() + ${ms} * interval '1 millisecond'`;
}
