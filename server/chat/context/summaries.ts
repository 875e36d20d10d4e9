import { and, desc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { conversations, conversationSummaries } from '../../db/schema';
import { decryptText, encryptText } from '../../security/encryption';

export interface StoredSummary {
  id: string;
  throughMessageId: string;
  covered: number;
  text: string;
  model: string | null;
  createdAt: Date;
}

/** One user's conversation summaries: every query joins the conversation and checks its owner, as Messages does. */
export class Summaries {
  constructor(
    private readonly db: Db,
    private readonly masterKey: Buffer,
    readonly userId: string,
  ) {}

  private async open(row: typeof conversationSummaries.$inferSelect): Promise<StoredSummary> {
    return {
      id: row.id,
      throughMessageId: row.throughMessageId,
      covered: row.covered,
      text: await decryptText(this.db, this.masterKey, row.contentEnc, row.dataKeyId),
      model: row.model,
      createdAt: row.createdAt,
    };
  }

  /** Every summary of an owned conversation, oldest first (the thread shows each where its branch passes). */
  async list(conversationId: string): Promise<StoredSummary[]> {
    const rows = await this.db
      .select({ s: conversationSummaries })
      .from(conversationSummaries)
      .innerJoin(conversations, eq(conversations.id, conversationSummaries.conversationId))
      .where(and(eq(conversationSummaries.conversationId, conversationId), eq(conversations.userId, this.userId)))
      .orderBy(conversationSummaries.createdAt);
    return Promise.all(rows.map((r) => this.open(r.s)));
  }

  /** The summary reaching furthest along this branch (ids oldest first), if any. */
  async deepestOn(conversationId: string, branchIds: string[]): Promise<(StoredSummary & { throughIndex: number }) | null> {
    if (branchIds.length === 0) return null;
    const rows = await this.db
      .select({ s: conversationSummaries })
      .from(conversationSummaries)
      .innerJoin(conversations, eq(conversations.id, conversationSummaries.conversationId))
      .where(and(eq(conversationSummaries.conversationId, conversationId), eq(conversations.userId, this.userId), inArray(conversationSummaries.throughMessageId, branchIds)))
      .orderBy(desc(conversationSummaries.createdAt));
    const position = new Map(branchIds.map((id, i) => [id, i]));
    const best = rows.map((r) => r.s).sort((a, b) => position.get(b.throughMessageId)! - position.get(a.throughMessageId)!)[0];
    return best ? { ...(await this.open(best)), throughIndex: position.get(best.throughMessageId)! } : null;
  }

  async add(input: { conversationId: string; throughMessageId: string; covered: number; text: string; model: string }): Promise<void> {
    // Under the owner's own data key: erasing them destroys it with their messages.
    const { ciphertext, dataKeyId } = await encryptText(this.db, this.masterKey, input.text, this.userId);
    await this.db.insert(conversationSummaries).values({
      conversationId: input.conversationId,
      throughMessageId: input.throughMessageId,
      covered: input.covered,
      contentEnc: ciphertext,
      dataKeyId,
      model: input.model,
    });
  }
}
