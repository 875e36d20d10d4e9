import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { conversations, messageAttachments, messages } from '../db/schema';
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
  /** Images on the message (data: URLs), in order; absent when it has none. */
  images?: string[];
}

/** An image to store with a message: its data: URL (sealed as it is) and what the rows keep in clear. */
export interface ImageToStore {
  dataUrl: string;
  info: { type: 'image/png' | 'image/jpeg' | 'image/webp' | 'image/gif'; bytes: number; width: number | null; height: number | null };
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
    return this.withImages(await Promise.all(rows.map((r) => this.decrypt(r.m))));
  }

  /** The messages with their images opened (one query for all of them; messages already owned). */
  private async withImages(list: ChatMessage[]): Promise<ChatMessage[]> {
    const ids = list.map((m) => m.id);
    if (ids.length === 0) return list;
    const rows = await this.db
      .select({ messageId: messageAttachments.messageId, contentEnc: messageAttachments.contentEnc, dataKeyId: messageAttachments.dataKeyId })
      .from(messageAttachments)
      .where(inArray(messageAttachments.messageId, ids))
      .orderBy(asc(messageAttachments.position));
    if (rows.length === 0) return list;
    const byMessage = new Map<string, string[]>();
    for (const r of rows) {
      const url = await decryptText(this.db, this.masterKey, r.contentEnc, r.dataKeyId);
      byMessage.set(r.messageId, [...(byMessage.get(r.messageId) ?? []), url]);
    }
    return list.map((m) => (byMessage.has(m.id) ? { ...m, images: byMessage.get(m.id) } : m));
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
    return this.withImages(await Promise.all(ids.map((mid) => this.decrypt(byId.get(mid)!))));
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
    /** Sealed under the same owner's key as the text (message_attachments, migration 0031). */
    images?: ImageToStore[];
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
    for (const [position, image] of (input.images ?? []).entries()) {
      const sealed = await encryptText(this.db, this.masterKey, image.dataUrl, this.userId);
      await this.db.insert(messageAttachments).values({
        messageId: row!.id,
        position,
        mediaType: image.info.type,
        bytes: image.info.bytes,
        width: image.info.width,
        height: image.info.height,
        contentEnc: sealed.ciphertext,
        dataKeyId: sealed.dataKeyId,
      });
    }
    return row!;
  }
}
