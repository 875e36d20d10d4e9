import { randomUUID } from 'node:crypto';
import type { Role } from '../../db/schema';
import { Conversations } from '../../chat/conversations';
import { openCompletionStream, readAnswer, type StreamEvent } from '../../chat/gateway-client';
import { Messages } from '../../chat/messages';
import { listModelsFor } from '../../chat/models';
import { ReplyStream } from '../../chat/reply-stream';
import type { ChatDeps, TurnAudit } from '../../chat/send';
import { DomainError } from '../../core/errors';
import { Battles, identityNames } from './battles';
import { identityLeak } from './identity';
import { arenaContestants, pickPair } from './pairing';
import type { ArenaRequest } from './request';

export type Side = 'a' | 'b';

/**
 * What the browser receives. Nothing here may carry a model's name: the sides are only "a" and "b"
 * until the vote (tests read every payload to check).
 */
export interface ArenaSink {
  /** maxTokens: the cap each answer runs to, so the page can show how far along each one is. */
  meta(data: { conversationId: string; userMessageId: string; maxTokens: number }): void;
  delta(data: { side: Side; text: string }): void;
  sideDone(data: { side: Side; finishReason: string | null; stopped: boolean; failed: boolean }): void;
  end(data: { battleId: string }): void;
}

/**
 * One arena round: two different ready models the user may use, the same prompt to both through the
 * gateway (as the user, so the gateway's own access checks and request logs apply), both answers
 * streamed side by side and stored encrypted in one new conversation as two assistant branches of the
 * one user message. The battle row is written last, once both answers are complete, so a vote can
 * only ever be on a finished pair. The answers are saved as they stream and the round writes its own
 * audit row, as a chat turn does (chat/reply-stream.ts): a process killed mid-round leaves both
 * answers marked interrupted and an INTERRUPTED audit row, and no battle.
 *
 * Not runChatTurn: it records the model's name on the conversation and the message, which the chat
 * sidebar would show before the vote. Here the names stay on the battle row until the vote.
 */
export async function runBattle(deps: ChatDeps & { dailyCap: number }, user: { id: string; role: Role }, req: ArenaRequest, sink: ArenaSink, signal: AbortSignal, audit: TurnAudit): Promise<{ audited: true }> {
  const store = new Battles(deps.db, user.id);
  if ((await store.votesToday()) >= deps.dailyCap) throw new DomainError('TOO_MANY_REQUESTS', `You have reached today's limit of ${deps.dailyCap} arena votes; try again tomorrow`);
  const ready = arenaContestants(await listModelsFor(deps.db, user));
  if (ready.length < 2) throw new DomainError('CONFLICT', 'The arena needs at least two ready models you may use');
  const { modelA, modelB } = pickPair(ready);

  const streams = await openBoth(deps, user.id, req, { a: modelA, b: modelB }, signal);
  const conversations = new Conversations(deps.db, deps.masterKey, user.id);
  const messages = new Messages(deps.db, deps.masterKey, user.id);
  const { id: conversationId } = await conversations.create({ title: req.content });
  const auditRow: TurnAudit = (outcome, detail) => ({ ...audit(outcome, detail), target: conversationId });
  const answerIds = { a: randomUUID(), b: randomUUID() };
  const replies = await ReplyStream.open(deps.db, deps.masterKey, {
    messageIds: [answerIds.a, answerIds.b],
    interrupted: auditRow('failure', { error: 'INTERRUPTED' }),
    leaseMs: deps.replyLeaseMs,
  });
  try {
    const { id: userMessageId } = await messages.add({ conversationId, parentId: null, role: 'user', content: req.content });
    const drafts = {
      a: await replies.begin(messages, { id: answerIds.a, conversationId, parentId: userMessageId, model: null, metadata: { arena: { side: 'a' } } }),
      b: await replies.begin(messages, { id: answerIds.b, conversationId, parentId: userMessageId, model: null, metadata: { arena: { side: 'b' } } }),
    };
    sink.meta({ conversationId, userMessageId, maxTokens: req.maxTokens });

    const startedAt = performance.now();
    const [a, b] = await Promise.all(
      (['a', 'b'] as const).map(async (side) => {
        const result = await readAnswer(streams[side], {
          signal,
          startedAt,
          onText: (text) => {
            drafts[side].append(text);
            sink.delta({ side, text });
          },
        });
        await drafts[side].finish({
          arena: { side },
          finishReason: result.finishReason,
          usage: result.usage,
          ttftMs: result.ttftMs,
          stopped: result.stopped,
          // Error texts from an engine can name it: kept in the row's metadata, not sent to the browser.
          ...(result.error ? { failed: true, error: result.error } : {}),
        });
        sink.sideDone({ side, finishReason: result.finishReason, stopped: result.stopped, failed: Boolean(result.error) });
        return result;
      }),
    );
    await conversations.touch(conversationId);

    const excludedReason =
      a!.error || b!.error
        ? 'An answer failed'
        : a!.stopped || b!.stopped
          ? 'The round was stopped before both answers finished'
          : identityLeak(`${drafts.a.text}\n${drafts.b.text}`, await identityNames(deps.db, [modelA, modelB]));
    const { id: battleId } = await store.record({ conversationId, modelA, modelB, excludedReason });
    await replies.close(auditRow('success', { battleId, excluded: excludedReason !== null }));
    sink.end({ battleId });
    return { audited: true };
  } catch (e) {
    for (const side of ['a', 'b'] as const) await streams[side].return(undefined).catch(() => undefined);
    // The caller (the streaming frame) audits this failure: the lease goes without an audit row of its own.
    await replies.release('The answer could not be saved');
    throw e;
  }
}

/** Both streams or neither: if the gateway refuses one, the other is closed and nothing is saved. */
async function openBoth(deps: ChatDeps, userId: string, req: ArenaRequest, names: Record<Side, string>, signal: AbortSignal) {
  const aborters = { a: new AbortController(), b: new AbortController() };
  const onAbort = () => (aborters.a.abort(), aborters.b.abort());
  signal.addEventListener('abort', onAbort, { once: true });
  const open = (side: Side) =>
    openCompletionStream({
      ...deps,
      userId,
      signal: aborters[side].signal,
      request: { model: names[side], messages: [{ role: 'user', content: req.content }], maxTokens: req.maxTokens, temperature: req.temperature },
    });
  const [a, b] = await Promise.allSettled([open('a'), open('b')]);
  if (a.status === 'fulfilled' && b.status === 'fulfilled') return { a: a.value, b: b.value };
  onAbort();
  for (const s of [a, b]) if (s.status === 'fulfilled') await s.value.return(undefined).catch(() => undefined);
  const reason = (a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason) as unknown;
  // The gateway's message can name the model ("model 'x' is not ready"): the browser gets a generic one.
  if (reason instanceof DomainError) throw new DomainError(reason.code, 'One of the two models could not take the request; try a new round', reason.status);
  throw reason;
}
