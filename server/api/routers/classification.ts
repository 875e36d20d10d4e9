import { and, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { DomainError } from '../../core/errors';
import { apiKeys, CLASSIFICATION_SUBJECT_KINDS, datasets, type ClassificationSubjectKind } from '../../db/schema';
import { conversationBelongsTo } from '../../chat/conversations';
import { isUuid } from '../../core/ids';
import { KnowledgeBases } from '../../knowledge/bases';
import { queueOnRedis } from '../../knowledge/queue-document';
import { announceCredentialChange } from '../../security/credential-events';
import { defaultLevel, levelNames, levelOf, levelOfFindings, loadProtectionSettings, setLevel, type Level } from '../../security/classification';
import type { ApiContext } from '../context';
import { authedProcedure, router } from '../trpc';

const subject = z.object({
  kind: z.enum(CLASSIFICATION_SUBJECT_KINDS, { error: 'kind must be conversation, dataset, api_key or knowledge_base' }),
  id: z.string().max(100),
});
const level = z.number({ error: 'level must be a number from 0 to 3' }).int().min(0, 'level must be from 0 to 3').max(3, 'level must be from 0 to 3');

type Ctx = ApiContext & { user: NonNullable<ApiContext['user']> };

/**
 * Whose subject it is: a conversation is its owner's alone; a dataset its owner's or an admin's; an API
 * key its owner's or an admin's; a knowledge base is read by whoever may search it and changed by its
 * owner alone (a shared one: 403). Anything else is not found, so ids of others reveal nothing.
 */
async function requireSubject(ctx: Ctx, kind: ClassificationSubjectKind, id: string, change = false): Promise<void> {
  const admin = ctx.user.role === 'admin';
  let found = false;
  if (!isUuid(id)) found = false;
  else if (kind === 'knowledge_base') {
    const kb = await new KnowledgeBases(ctx.db, ctx.masterKey, ctx.user, queueOnRedis).require(id);
    if (change && kb.ownerId !== ctx.user.id) throw new DomainError('FORBIDDEN', "Only its owner can change a knowledge base's level");
    found = true;
  } else if (kind === 'conversation') found = await conversationBelongsTo(ctx.db, ctx.user.id, id);
  else if (kind === 'dataset') {
    const [row] = await ctx.db.select({ id: datasets.id }).from(datasets).where(and(eq(datasets.id, id), admin ? undefined : eq(datasets.ownerId, ctx.user.id)));
    found = !!row;
  } else {
    const [row] = await ctx.db.select({ id: apiKeys.id }).from(apiKeys).where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt), admin ? undefined : eq(apiKeys.userId, ctx.user.id)));
    found = !!row;
  }
  if (!found) throw new DomainError('NOT_FOUND', `${kind === 'api_key' ? 'API key' : kind === 'dataset' ? 'Dataset' : kind === 'knowledge_base' ? 'Knowledge base' : 'Conversation'} not found`);
}

/**
 * Classification of one's own conversations, datasets, API keys and knowledge bases (issues 13, 16). Anyone reads and sets the
 * level of what is theirs; raising is always allowed, lowering only explicitly here (the mutation guard
 * audits it) and, for a user, never below what the detector found in it. Admins may set datasets and keys
 * of anyone, to any level.
 */
export const classificationRouter = router({
  /** The configured level names (lowest first) and the default level. */
  levels: authedProcedure.query(() => ({ names: levelNames(), defaultLevel: defaultLevel() })),

  get: authedProcedure.input(subject).query(async ({ ctx, input }) => {
    await requireSubject(ctx, input.kind, input.id);
    const c = await levelOf(ctx.db, input.kind, input.id);
    return { ...c, names: levelNames() };
  }),

  set: authedProcedure.input(subject.extend({ level })).mutation(async ({ ctx, input }) => {
    await requireSubject(ctx, input.kind, input.id, true);
    // An admin's word on datasets and keys; conversations and knowledge bases are their owners' alone.
    const admin = ctx.user.role === 'admin' && (input.kind === 'dataset' || input.kind === 'api_key');
    let floor: Level = 0;
    if (!admin) {
      const [current, settings] = await Promise.all([levelOf(ctx.db, input.kind, input.id), loadProtectionSettings(ctx.db)]);
      floor = levelOfFindings(current.findings, settings.levels);
    }
    const stored = await setLevel(ctx.db, input.kind, input.id, input.level as Level, admin ? 'admin' : 'user', floor);
    // Gateways cache a key's level for a moment: they drop it at once.
    if (input.kind === 'api_key') await announceCredentialChange({ keyId: input.id });
    return { level: stored, declaredLevel: input.level };
  }),
});
