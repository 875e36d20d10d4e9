import { z } from 'zod';
import type { Db } from '../../db/client';
import { KnowledgeBases } from '../../knowledge/bases';
import { knowledgeBaseLevels } from '../../knowledge/classification';
import { levelName } from '../../security/classification';
import { ConversationKnowledge } from '../../knowledge/conversation-knowledge';
import { queueOnRedis } from '../../knowledge/queue-document';
import { DEFAULT_RETRIEVAL, retrievePassages } from '../../knowledge/retrieve';
import { authedProcedure, router } from '../trpc';

const id = z.string().max(100);
const values = z
  .object({
    name: z.string({ error: 'name must be a string' }).trim().min(1, 'name is required').max(100, 'name must be at most 100 characters'),
    embeddingModel: z.string({ error: 'embeddingModel must be a string' }).min(1, 'embeddingModel: choose an embedding deployment').max(200),
    groupIds: z.array(z.uuid('groupIds: each must be a group id')).max(64, 'groupIds: at most 64 groups').default([]),
  })
  .strict();

type Ctx = { db: Db; masterKey: Buffer; gatewayUrl: string; user: { id: string; role: string } };
const basesOf = (ctx: Ctx) => new KnowledgeBases(ctx.db, ctx.masterKey, ctx.user, queueOnRedis);

/** Knowledge bases: a user's own and those shared with their groups (searchable, not editable). Uploads: POST /api/knowledge/:kbId/documents. */
export const knowledgeRouter = router({
  list: authedProcedure.query(({ ctx }) => basesOf(ctx).list()),
  get: authedProcedure.input(z.object({ id })).query(({ ctx, input }) => basesOf(ctx).get(input.id)),
  create: authedProcedure.input(values).mutation(({ ctx, input }) => basesOf(ctx).create(input)),
  update: authedProcedure.input(z.object({ id, values })).mutation(({ ctx, input }) => basesOf(ctx).update(input.id, input.values)),
  delete: authedProcedure.input(z.object({ id })).mutation(async ({ ctx, input }) => {
    await basesOf(ctx).delete(input.id);
    return { id: input.id };
  }),
  documents: authedProcedure.input(z.object({ kbId: id })).query(({ ctx, input }) => basesOf(ctx).documents(input.kbId)),
  deleteDocument: authedProcedure.input(z.object({ id })).mutation(async ({ ctx, input }) => {
    await basesOf(ctx).deleteDocument(input.id);
    return { id: input.id };
  }),
  passage: authedProcedure.input(z.object({ chunkId: id })).query(({ ctx, input }) => basesOf(ctx).passage(input.chunkId)),
  /**
   * Hybrid search over bases the caller can read (others are dropped silently, as if missing). Each passage
   * says its base's data classification (kbLevel, a rank, and kbLevelName): what it may be sent to.
   */
  search: authedProcedure.input(z.object({ kbIds: z.array(id).min(1).max(20), query: z.string().trim().min(1, 'query is required').max(2000), k: z.number().int().min(1).max(20).default(5) })).query(async ({ ctx, input }) => {
    const visible = await basesOf(ctx).visibleIds(input.kbIds);
    const [passages, levels] = await Promise.all([retrievePassages(ctx, ctx.user.id, visible, input.query, { ...DEFAULT_RETRIEVAL, k: input.k }), knowledgeBaseLevels(ctx.db, visible)]);
    return passages.map((p) => {
      const kbLevel = levels.get(p.kbId)!;
      return { ...p, kbLevel, kbLevelName: levelName(kbLevel) };
    });
  }),
  attached: authedProcedure.input(z.object({ conversationId: id })).query(({ ctx, input }) => new ConversationKnowledge(ctx.db, basesOf(ctx)).attached(input.conversationId)),
  attach: authedProcedure.input(z.object({ conversationId: id, kbId: id })).mutation(async ({ ctx, input }) => {
    await new ConversationKnowledge(ctx.db, basesOf(ctx)).attach(input.conversationId, input.kbId);
    return input;
  }),
  detach: authedProcedure.input(z.object({ conversationId: id, kbId: id })).mutation(async ({ ctx, input }) => {
    await new ConversationKnowledge(ctx.db, basesOf(ctx)).detach(input.conversationId, input.kbId);
    return input;
  }),
});
