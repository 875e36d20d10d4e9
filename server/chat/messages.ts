import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { conversations, messages } from '../db/schema';
import { decryptText, encryptText } from '../security/encryption';
import { DomainError } from '../core/errors';
import { isUuid } from '../core/ids';
import { openToolCalls } from './tool-rounds';

export type MessageRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  id: string;
  parentId: string | null;
  role: MessageRole;
  content: string;
  model: string | null;
  metadata: Record<string, unknown>;
  createdAt: Date;
}

/**
 * One user's messages. Every query joins the conversation and checks its owner, so a message id
 * from someone else's conversation is simply not found.
 */
export class Messages {
  constructor(
    private readonly db: Db,
    private readonly masterKey: Buffer,
    readonly userId: string,
  ) {}

  private async decrypt(row: typeof messages.$inferSelect): Promise<ChatMessage> {
    return {
      id: row.id,
      parentId: row.parentId,
      role: row.role,
      content: await decryptText(this.db, this.masterKey, row.contentEnc, row.dataKeyId),
      model: row.model,
      metadata: await openToolCalls(this.db, this.masterKey, row.metadata),
      createdAt: row.createdAt,
    };
  }

  /** Every message of an owned conversation, oldest first (the client arranges the branches). */
  async list(conversationId: string): Promise<ChatMessage[]> {
    const rows = await this.db
      .select({ m: messages })
      .from(messages)
      .innerJoin(conversations, eq(conversations.id, messages.conversationId))
      .where(and(eq(messages.conversationId, conversationId), eq(conversations.userId, this.userId)))
      .orderBy(asc(messages.createdAt), asc(messages.id));
    return Promise.all(rows.map((r) => this.decrypt(r.m)));
  }

  /** The message, if it is in this owned conversation; NOT_FOUND otherwise. */
  async require(conversationId: string, id: string): Promise<typeof messages.$inferSelect> {
    if (!isUuid(id)) throw new DomainError('NOT_FOUND', 'Message not found');
    const [row] = await this.db
      .select({ m: messages })
      .from(messages)
      .innerJoin(conversations, eq(conversations.id, messages.conversationId))
      .where(and(eq(messages.id, id), eq(messages.conversationId, conversationId), eq(conversations.userId, this.userId)));
    if (!row) throw new DomainError('NOT_FOUND', 'Message not found in this conversation');
    return row.m;
  }

  private async requireConversation(conversationId: string): Promise<void> {
    const [row] = isUuid(conversationId)
      ? await this.db
          .select({ id: conversations.id })
          .from(conversations)
          .where(and(eq(conversations.id, conversationId), eq(conversations.userId, this.userId)))
      : [];
    if (!row) throw new DomainError('NOT_FOUND', 'Conversation not found');
  }

  /** The branch that ends at a message: root first, the message itself last. */
  async branch(conversationId: string, id: string): Promise<ChatMessage[]> {
    await this.require(conversationId, id);
    const result = await this.db.execute<{ id: string }>(sql`
      WITH RECURSIVE chain(id, parent_id, depth) AS (
        SELECT id, parent_id, 0 FROM messages WHERE id = ${id} AND conversation_id = ${conversationId}
        UNION ALL
        SELECT m.id, m.parent_id, c.depth + 1 FROM messages m JOIN chain c ON m.id = c.parent_id
        WHERE m.conversation_id = ${conversationId} AND c.depth < 10000
      )
      SELECT id FROM chain ORDER BY depth DESC`);
    const ids = result.rows.map((r) => r.id);
    const all = await this.db.select().from(messages).where(inArray(messages.id, ids));
    const byId = new Map(all.map((m) => [m.id, m]));
    return Promise.all(ids.map((mid) => this.decrypt(byId.get(mid)!)));
  }

  /** Appends a message (encrypted) to an owned conversation; the parent must be in the same one. */
  async add(input: {
    /** Set when the id must be known before the row exists (a streaming reply: its lease names it). */
    id?: string;
    conversationId: string;
    parentId: string | null;
    role: MessageRole;
    content: string;
    model?: string | null;
    metadata?: Record<string, unknown>;
  }): Promise<{ id: string }> {
    if (input.parentId) await this.require(input.conversationId, input.parentId);
    else await this.requireConversation(input.conversationId);
    // Under the owner's own data key: erasing them destroys it (crypto-shredding).
    const { ciphertext, dataKeyId } = await encryptText(this.db, this.masterKey, input.content, this.userId);
    const [row] = await this.db
      .insert(messages)
      .values({
        ...(input.id ? { id: input.id } : {}),
        conversationId: input.conversationId,
        parentId: input.parentId,
        role: input.role,
        contentEnc: ciphertext,
        dataKeyId,
        model: input.model ?? null,
        metadata: input.metadata ?? {},
      })
      .returning({ id: messages.id });
    return row!;
  }
}
