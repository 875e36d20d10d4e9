import { z } from 'zod';
import { Conversations, MAX_TITLE_LENGTH } from '../../chat/conversations';
import { Messages } from '../../chat/messages';
import { Summaries } from '../../chat/context/summaries';
import { Presets } from '../../chat/presets';
import type { ApiContext } from '../context';
import { authedProcedure, router } from '../trpc';

// Ids are only checked for being strings: a malformed id is "not found", like someone else's.
const id = z.string().max(100);

/** The signed-in user's own stores: every query they make is scoped to that user. */
function stores(ctx: Pick<ApiContext, 'db' | 'masterKey'> & { user: { id: string } }) {
  return { conversations: new Conversations(ctx.db, ctx.masterKey, ctx.user.id), messages: new Messages(ctx.db, ctx.masterKey, ctx.user.id) };
}

export const conversationsRouter = router({
  list: authedProcedure.input(z.object({ search: z.string().max(200).optional() }).optional()).query(({ ctx, input }) => stores(ctx).conversations.list({ search: input?.search })),

  get: authedProcedure.input(z.object({ id })).query(async ({ ctx, input }) => {
    const { conversations, messages } = stores(ctx);
    const row = await conversations.require(input.id);
    const summaries = await new Summaries(ctx.db, ctx.masterKey, ctx.user.id).list(row.id);
    return {
      id: row.id,
      title: await conversations.title(row),
      model: row.model,
      context: { policy: row.contextPolicy, turns: row.contextTurns },
      systemPrompt: await conversations.systemPrompt(row),
      topP: row.topP,
      messages: await messages.list(row.id),
      // Shown in the thread after the message each one reaches, where the branch passes it.
      summaries: summaries.map((s) => ({ id: s.id, throughMessageId: s.throughMessageId, covered: s.covered, text: s.text, model: s.model, createdAt: s.createdAt })),
    };
  }),

  /** What is sent once the history outgrows the model's context: summarise older turns, leave them out, or only the last N turns. */
  setContext: authedProcedure
    .input(
      z.discriminatedUnion('policy', [
        z.object({ id, policy: z.literal('summarize') }),
        z.object({ id, policy: z.literal('trim') }),
        z.object({ id, policy: z.literal('turns'), turns: z.number({ error: 'turns must be a number' }).int('turns must be a whole number').min(1, 'turns must be between 1 and 1000').max(1000, 'turns must be between 1 and 1000') }),
      ]),
    )
    .mutation(async ({ ctx, input }) => {
      await stores(ctx).conversations.setContext(input.id, input.policy, input.policy === 'turns' ? input.turns : null);
      return { id: input.id };
    }),

  create: authedProcedure
    .input(z.object({ title: z.string().max(MAX_TITLE_LENGTH).optional(), model: z.string().min(1).max(200).optional(), presetId: id.optional() }).optional())
    .mutation(async ({ ctx, input }) => {
      // A preset the caller may use (their own, or shared with a group they are in); anything else is not found.
      const preset = input?.presetId ? await new Presets(ctx.db, ctx.masterKey, ctx.user).require(input.presetId) : undefined;
      return stores(ctx).conversations.create({ title: input?.title, model: input?.model, preset });
    }),

  /** The system prompt sent first on every turn; '' removes it. */
  setSystemPrompt: authedProcedure
    .input(z.object({ id, systemPrompt: z.string({ error: 'systemPrompt must be a string' }).max(8000, 'systemPrompt must be at most 8000 characters') }))
    .mutation(async ({ ctx, input }) => {
      await stores(ctx).conversations.setSystemPrompt(input.id, input.systemPrompt);
      return { id: input.id };
    }),

  rename: authedProcedure.input(z.object({ id, title: z.string().min(1).max(MAX_TITLE_LENGTH) })).mutation(async ({ ctx, input }) => {
    await stores(ctx).conversations.rename(input.id, input.title);
    return { id: input.id };
  }),

  delete: authedProcedure.input(z.object({ id })).mutation(async ({ ctx, input }) => {
    await stores(ctx).conversations.delete(input.id);
    return { id: input.id };
  }),
});
