import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client';
import { DomainError } from '../security/errors';
import { Conversations } from './conversations';
import { openCompletionStream, UpstreamStreamError, type CompletionRequest, type StreamEvent, type Usage } from './gateway-client';
import { Messages, type ChatMessage } from './messages';
import type { ChatRequest } from './request';

/** Where a chat turn's events go (server-sent events in production, an array in a unit test). */
export interface ChatSink {
  meta(data: { userMessageId?: string; assistantMessageId: string; parentId: string }): void;
  delta(data: { text: string }): void;
  done(data: { finishReason: string | null; usage: Usage | null; stopped: boolean }): void;
  error(data: { message: string; status: number }): void;
}

export interface ChatTurnResult {
  assistantMessageId?: string;
  outcome: 'success' | 'failure';
  stopped: boolean;
}

export interface ChatDeps {
  db: Db;
  masterKey: Buffer;
  gatewayUrl: string;
}

function promptFrom(branch: ChatMessage[]): CompletionRequest['messages'] {
  // A failed, empty assistant turn carries nothing the model should see.
  return branch.filter((m) => m.content.length > 0).map((m) => ({ role: m.role, content: m.content }));
}

/**
 * One chat turn: checks ownership, opens the gateway stream, and only once the gateway has accepted
 * the request writes the user message. From then on the turn always ends with an assistant message:
 * complete, stopped (client went away: the partial text, metadata.stopped) or failed (the text so
 * far, metadata.failed and the error). So a refused request leaves no rows at all, and no user message
 * is ever left without a reply.
 *
 * Throws a DomainError for anything refused before streaming (bad ids, not found, gateway refusal).
 */
export async function runChatTurn(deps: ChatDeps, userId: string, req: ChatRequest, sink: ChatSink, signal: AbortSignal): Promise<ChatTurnResult> {
  const conversations = new Conversations(deps.db, deps.masterKey, userId);
  const messages = new Messages(deps.db, deps.masterKey, userId);
  await conversations.require(req.conversationId);

  let history: ChatMessage[];
  let assistantParentId: string | null;
  if (req.kind === 'regenerate') {
    const target = await messages.require(req.conversationId, req.regenerateFrom);
    if (target.role !== 'user') throw new DomainError('BAD_REQUEST', 'regenerateFrom must be a user message');
    history = await messages.branch(req.conversationId, req.regenerateFrom);
    assistantParentId = req.regenerateFrom;
  } else {
    history = req.parentId ? await messages.branch(req.conversationId, req.parentId) : [];
    history.push({ id: '', parentId: req.parentId, role: 'user', content: req.content, model: null, metadata: {}, createdAt: new Date() });
    assistantParentId = null;
  }

  const startedAt = performance.now();
  const stream = await openCompletionStream({
    ...deps,
    userId,
    signal,
    request: { model: req.model, messages: promptFrom(history), maxTokens: req.maxTokens, temperature: req.temperature },
  });

  let userMessageId: string | undefined;
  if (req.kind === 'send') {
    userMessageId = (await messages.add({ conversationId: req.conversationId, parentId: req.parentId, role: 'user', content: req.content })).id;
    assistantParentId = userMessageId;
  }
  const assistantMessageId = randomUUID();
  sink.meta({ ...(userMessageId ? { userMessageId } : {}), assistantMessageId, parentId: assistantParentId! });

  const turn = await consume(stream, sink, signal, startedAt);
  await messages.add({
    id: assistantMessageId,
    conversationId: req.conversationId,
    parentId: assistantParentId,
    role: 'assistant',
    content: turn.text,
    model: req.model,
    metadata: {
      finishReason: turn.finishReason,
      usage: turn.usage,
      ttftMs: turn.ttftMs,
      stopped: turn.stopped,
      // The experiment arm that answered, so feedback on this reply counts for it.
      ...(stream.servedBy ? { servedBy: stream.servedBy } : {}),
      ...(turn.error ? { failed: true, error: turn.error.message } : {}),
    },
  });
  await conversations.touch(req.conversationId, { model: req.model, titleFrom: req.kind === 'send' ? req.content : undefined });

  if (turn.error) sink.error(turn.error);
  else sink.done({ finishReason: turn.finishReason, usage: turn.usage, stopped: turn.stopped });
  return { assistantMessageId, outcome: turn.error ? 'failure' : 'success', stopped: turn.stopped };
}

interface ConsumedTurn {
  text: string;
  finishReason: string | null;
  usage: Usage | null;
  ttftMs: number | null;
  stopped: boolean;
  error?: { message: string; status: number };
}

async function consume(stream: AsyncGenerator<StreamEvent>, sink: ChatSink, signal: AbortSignal, startedAt: number): Promise<ConsumedTurn> {
  const turn: ConsumedTurn = { text: '', finishReason: null, usage: null, ttftMs: null, stopped: false };
  try {
    for await (const event of stream) {
      if (event.type === 'delta') {
        turn.ttftMs ??= Math.round((performance.now() - startedAt) * 10) / 10;
        turn.text += event.text;
        sink.delta({ text: event.text });
      } else if (event.type === 'finish') turn.finishReason = event.reason;
      else turn.usage = event.usage;
    }
    if (signal.aborted) turn.stopped = true;
  } catch (e) {
    if (signal.aborted) turn.stopped = true;
    else if (e instanceof UpstreamStreamError) turn.error = { message: e.message, status: 502 };
    else turn.error = { message: 'The stream from the model was interrupted', status: 502 };
  }
  if (turn.stopped) turn.finishReason ??= 'stop_requested';
  return turn;
}
