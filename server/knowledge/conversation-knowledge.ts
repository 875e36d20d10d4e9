import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { conversationKnowledge, conversations, knowledgeBases } from '../db/schema';
import { DomainError } from '../core/errors';
import { isUuid } from '../core/ids';
import type { KnowledgeBases } from './bases';

/**
 * Which knowledge bases a conversation answers from. Only the conversation's owner changes it, and only
 * with bases they can read; a base unshared later is simply skipped at retrieval (visibleIds).
 */
export class ConversationKnowledge {
  constructor(
    private readonly db: Db,
    private readonly bases: KnowledgeBases,
  ) {}

  private get userId() {
    return this.bases.user.id;
  }

  /** The caller's own conversation; NOT_FOUND for anyone else's (as the chat answers). */
  private async requireConversation(id: string): Promise<void> {
    const [row] = isUuid(id) ? await this.db.select({ id: conversations.id }).from(conversations).where(and(eq(conversations.id, id), eq(conversations.userId, this.userId))) : [];
    if (!row) throw new DomainError('NOT_FOUND', 'Conversation not found');
  }

  async attach(conversationId: string, kbId: string): Promise<void> {
    await this.requireConversation(conversationId);
    await this.bases.require(kbId);
    await this.db.insert(conversationKnowledge).values({ conversationId, kbId }).onConflictDoNothing();
  }

  async detach(conversationId: string, kbId: string): Promise<void> {
    await this.requireConversation(conversationId);
    await this.db.delete(conversationKnowledge).where(and(eq(conversationKnowledge.conversationId, conversationId), eq(conversationKnowledge.kbId, kbId)));
  }

  /** The attached bases the caller can still read, with their names. */
  async attached(conversationId: string): Promise<{ id: string; name: string }[]> {
    await this.requireConversation(conversationId);
    const rows = await this.db
      .select({ id: knowledgeBases.id, name: knowledgeBases.name })
      .from(conversationKnowledge)
      .innerJoin(knowledgeBases, eq(knowledgeBases.id, conversationKnowledge.kbId))
      .where(eq(conversationKnowledge.conversationId, conversationId))
      .orderBy(asc(conversationKnowledge.createdAt));
    const visible = new Set(await this.bases.visibleIds(rows.map((r) => r.id)));
    return rows.filter((r) => visible.has(r.id));
  }
}
