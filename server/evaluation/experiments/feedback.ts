import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { conversations, deployments, experimentVariants, messageFeedback, messages } from '../../db/schema';
import { DomainError } from '../../core/errors';

/** What answered a message, as the chat path stored it from the gateway's x-enclave-variant-id header. */
function servedVariantId(metadata: Record<string, unknown>): string | null {
  const served = metadata.servedBy as { variantId?: unknown } | undefined;
  return typeof served?.variantId === 'string' ? served.variantId : null;
}

/**
 * Thumbs up (1), down (-1) or cleared (0) on one of the caller's own assistant messages. The row is
 * tagged with the deployment, experiment and variant that answered, so experiments can count it; the
 * rating is mirrored into the message's metadata so the chat shows it after a reload.
 */
export async function setFeedback(db: Db, userId: string, messageId: string, rating: 1 | -1 | 0): Promise<{ messageId: string; rating: number }> {
  return db.transaction(async (tx) => {
    const [m] = await tx
      .select({ id: messages.id, role: messages.role, model: messages.model, metadata: messages.metadata })
      .from(messages)
      .innerJoin(conversations, eq(conversations.id, messages.conversationId))
      .where(and(eq(messages.id, messageId), eq(conversations.userId, userId)));
    // Someone else's message is "not found", never "forbidden": its existence is not the caller's business.
    if (!m) throw new DomainError('NOT_FOUND', 'Message not found');
    if (m.role !== 'assistant') throw new DomainError('BAD_REQUEST', 'Only replies can be rated');

    if (rating === 0) {
      await tx.delete(messageFeedback).where(and(eq(messageFeedback.messageId, messageId), eq(messageFeedback.userId, userId)));
    } else {
      const variantId = servedVariantId(m.metadata);
      const [variant] = variantId
        ? await tx
            .select({ experimentId: experimentVariants.experimentId, deploymentId: experimentVariants.deploymentId })
            .from(experimentVariants)
            .where(eq(experimentVariants.id, variantId))
        : [];
      const [deployment] = !variant && m.model ? await tx.select({ id: deployments.id }).from(deployments).where(eq(deployments.name, m.model)) : [];
      const tags = {
        rating,
        model: m.model,
        deploymentId: variant?.deploymentId ?? deployment?.id ?? null,
        experimentId: variant?.experimentId ?? null,
        variantId: variant ? variantId : null,
      };
      await tx
        .insert(messageFeedback)
        .values({ messageId, userId, ...tags })
        .onConflictDoUpdate({ target: [messageFeedback.messageId, messageFeedback.userId], set: { ...tags, createdAt: new Date() } });
    }
    await tx
      .update(messages)
      .set({ metadata: sql`${messages.metadata} || jsonb_build_object('feedback', ${rating}::int)` })
      .where(eq(messages.id, messageId));
    return { messageId, rating };
  });
}
