import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client';
import type { AuditEntry, AuditOutcome } from '../security/audit';
import { DomainError } from '../core/errors';
import { Conversations } from './conversations';
import { readAnswer, type Usage } from './gateway-client';
import { openFittedStream } from './context/prepare';
import { contextWindows } from './context/windows';
import { titleFromModel } from './titles';
import { Messages, type ChatMessage } from './messages';
import { runToolRounds, sealToolCalls, type ChatTools, type ToolCallRecord } from './tool-rounds';
import { ReplyStream } from './reply-stream';
import { conversationProtection } from './classification';
import { knowledgeForTurn, type Citation, type Withheld } from '../knowledge/chat-context';
import { turnLimit } from './knowledge-limit';
import { raiseLevelAudited, type Level } from '../security/classification';
import type { ChatRequest } from './request';

/** Where a chat turn's events go (server-sent events in production, an array in a unit test). */
export interface ChatSink {
  meta(data: { userMessageId?: string; assistantMessageId: string; parentId: string; context?: { policy: string; omitted: number; summarized: boolean; newSummary?: boolean } }): void;
  delta(data: { text: string }): void;
  /** A tool call the model made and what it came to (also on `done`, as the reply's metadata has them). */
  tool(data: ToolCallRecord): void;
  done(data: { finishReason: string | null; usage: Usage | null; stopped: boolean; toolCalls?: ToolCallRecord[]; citations?: Citation[]; withheld?: Withheld }): void;
  error(data: { message: string; status: number }): void;
}

/** The audit row the call would write (the streaming frame's): the turn writes it itself, with its reply. */
export type TurnAudit = (outcome: AuditOutcome, detail: Record<string, unknown>) => AuditEntry;

export interface ChatDeps {
  db: Db;
  masterKey: Buffer;
  gatewayUrl: string;
  /** ENCLAVE_REPLY_LEASE_MS: how long a streaming reply outlives a silent writer before the sweep ends it. */
  replyLeaseMs: number;
  /** ENCLAVE_CHAT_TITLES=model: the model titles a conversation after its first exchange. */
  modelTitles?: boolean;
  /** The plugins granted to the user, for a tool-capable deployment (server/tools); none when absent or null. */
  tools?: (userId: string, model: string) => Promise<ChatTools | null>;
}

/**
 * One chat turn: checks ownership, opens the gateway stream, and only once the gateway has accepted
 * the request writes the user message. From then on the turn always ends with an assistant message:
 * complete, stopped (client went away: the partial text, metadata.stopped), failed (the text so
 * far, metadata.failed and the error) or, if this process dies, interrupted (the text saved so far,
 * metadata.interrupted, set by the worker's sweep). So a refused request leaves no rows at all, and no
 * user message is ever left without a reply. The reply row exists from the first moment and its text
 * is saved as it streams (reply-stream.ts); the turn's audit row is written with its last write, or by
 * the sweep, exactly once, so the caller writes none.
 *
 * Throws a DomainError for anything refused before streaming (bad ids, not found, gateway refusal).
 */
export async function runChatTurn(deps: ChatDeps, userId: string, req: ChatRequest, sink: ChatSink, signal: AbortSignal, audit: TurnAudit): Promise<{ audited: true }> {
  const conversations = new Conversations(deps.db, deps.masterKey, userId);
  const messages = new Messages(deps.db, deps.masterKey, userId);
  const conversation = await conversations.require(req.conversationId);

  let history: ChatMessage[];
  let assistantParentId: string | null;
  if (req.kind === 'regenerate') {
    const target = await messages.require(req.conversationId, req.regenerateFrom);
    if (target.role !== 'user') throw new DomainError('BAD_REQUEST', 'regenerateFrom must be a user message');
    history = await messages.branch(req.conversationId, req.regenerateFrom);
    assistantParentId = req.regenerateFrom;
  } else {
    history = req.parentId ? await messages.branch(req.conversationId, req.parentId) : [];
    // Its images go to the model with it; a deployment without vision refuses them before anything is stored.
    const images = req.images?.map((i) => i.dataUrl);
    history.push({ id: '', parentId: req.parentId, role: 'user', content: req.content, model: null, metadata: {}, createdAt: new Date(), ...(images ? { images } : {}) });
    assistantParentId = null;
  }

  // The conversation's declared level goes with the turn; the gateway refuses or masks above the deployment's.
  const protection = await conversationProtection(deps.db, userId, req.conversationId, req.kind === 'send' ? req.content : '');
  // Passages of the conversation's knowledge bases for the question, numbered for citation (none attached: null).
  const question = req.kind === 'send' ? req.content : (history.findLast((m) => m.role === 'user')?.content ?? '');
  // A third of the model's context (as far as the chat knows it) for the passages; the history fits around them.
  const window = contextWindows.get(req.model);
  // Passages of a base classified above what the model may receive are withheld (counted, never sent).
  const knowledge = await knowledgeForTurn(deps, { id: userId, role: 'user' }, req.conversationId, question, Math.floor((window.tokens ?? 2048) * window.charsPerToken * 0.3), () =>
    turnLimit(deps.db, req.model),
  );
  // The turn is held to its passages' level too, and to that of passages earlier replies in its branch were
  // given (their answers may repeat them): a deployment that may not receive it, a fallback included, refuses it.
  const carried = history.reduce((l, m) => (typeof m.metadata.knowledgeLevel === 'number' ? Math.max(l, m.metadata.knowledgeLevel) : l), 0);
  const turnLevel = Math.max(protection.declaredLevel, knowledge?.level ?? 0, carried) as Level;
  const tools = (await deps.tools?.(userId, req.model)) ?? null;
  const startedAt = performance.now();
  // The history fitted to the model's context (summarised, trimmed or cut to N turns, as the conversation says).
  const { stream, fit, messages: prompt, maxTokens } = await openFittedStream(
    deps,
    userId,
    {
      conversationId: req.conversationId,
      systemPrompt: [await conversations.systemPrompt(conversation), knowledge?.text].filter(Boolean).join('\n\n') || undefined,
      topP: conversation.topP ?? undefined,
      policy: conversation.contextPolicy,
      turns: conversation.contextTurns,
      model: req.model,
      maxTokens: req.maxTokens,
      temperature: req.temperature,
      classification: { level: turnLevel, conversationId: req.conversationId },
      tools: tools?.definitions,
    },
    history,
    signal,
  );

  const assistantMessageId = randomUUID();
  // Before the first write of the turn, so a process killed from here on still leaves an audit row.
  const replies = await ReplyStream.open(deps.db, deps.masterKey, {
    messageIds: [assistantMessageId],
    interrupted: audit('failure', { error: 'INTERRUPTED', assistantMessageId, stopped: false }),
    leaseMs: deps.replyLeaseMs,
  });
  try {
    let userMessageId: string | undefined;
    if (req.kind === 'send') {
      userMessageId = (await messages.add({ conversationId: req.conversationId, parentId: req.parentId, role: 'user', content: req.content, images: req.images })).id;
      assistantParentId = userMessageId;
      // What the new message holds raises the conversation's level (types and counts only).
      await protection.record();
    }
    // The passages flowed into the conversation: it rises to their bases' level (audited; ids only).
    if (knowledge?.level != null)
      await raiseLevelAudited(deps.db, userId, 'conversation', req.conversationId, knowledge.level, {}, { by: 'knowledge', knowledgeBaseIds: knowledge.kbIds });
    const draft = await replies.begin(messages, { id: assistantMessageId, conversationId: req.conversationId, parentId: assistantParentId!, model: req.model });
    // Counts only: which policy left how many messages out of what the model saw.
    const context = fit.omitted > 0 ? { policy: fit.policy, omitted: fit.omitted, summarized: fit.summarized } : null;
    sink.meta({ ...(userMessageId ? { userMessageId } : {}), assistantMessageId, parentId: assistantParentId!, ...(context ? { context: { ...context, newSummary: fit.newSummary } } : {}) });

    const onText = (text: string) => {
      draft.append(text);
      sink.delta({ text });
    };
    const first = await readAnswer(stream, { signal, startedAt, onText });
    // The model asked for tools: call them and let it answer with their results (tool-rounds.ts).
    const { outcome: turn, calls } = tools
      ? await runToolRounds({
          deps,
          userId,
          tools,
          request: { model: req.model, messages: prompt, maxTokens, temperature: req.temperature, topP: conversation.topP ?? undefined },
          classification: { level: turnLevel, conversationId: req.conversationId },
          first,
          signal,
          startedAt,
          onText,
          onTool: (record) => sink.tool(record),
        })
      : { outcome: first, calls: [] as ToolCallRecord[] };
    await conversations.touch(req.conversationId, { model: req.model, titleFrom: req.kind === 'send' ? req.content : undefined });
    if (first.usage && fit.promptChars !== null) contextWindows.answered(req.model, first.usage.prompt_tokens, fit.promptChars);
    await draft.finish({
      ...(context ? { context } : {}),
      finishReason: turn.finishReason,
      usage: turn.usage,
      ttftMs: turn.ttftMs,
      stopped: turn.stopped,
      // The experiment arm that answered, so feedback on this reply counts for it.
      ...(stream.servedBy ? { servedBy: stream.servedBy } : {}),
      // Where each passage the model was given came from (never its text): shown under the reply.
      ...(knowledge ? { citations: knowledge.citations } : {}),
      // How many passages were withheld and why (counts and level names; never their content).
      ...(knowledge?.withheld ? { withheld: knowledge.withheld } : {}),
      // The level of the passages it was given: later turns of this branch are held to it.
      ...(knowledge?.level != null ? { knowledgeLevel: knowledge.level } : {}),
      ...(turn.error ? { failed: true, error: turn.error } : {}),
      ...(calls.length ? { toolCalls: await sealToolCalls(deps.db, deps.masterKey, userId, calls) } : {}),
    });
    await replies.close(audit(turn.error ? 'failure' : 'success', { assistantMessageId, stopped: turn.stopped }));

    if (turn.error) sink.error({ message: turn.error, status: 502 });
    else sink.done({ finishReason: turn.finishReason, usage: turn.usage, stopped: turn.stopped, ...(calls.length ? { toolCalls: calls } : {}), ...(knowledge ? { citations: knowledge.citations } : {}), ...(knowledge?.withheld ? { withheld: knowledge.withheld } : {}) });
    // The first exchange went well: the model titles the conversation, after the reply (never delaying it).
    if (deps.modelTitles && req.kind === 'send' && req.parentId === null && !turn.error && !turn.stopped)
      void titleFromModel(deps, userId, { conversationId: req.conversationId, model: req.model, firstMessage: req.content, classification: { level: turnLevel, conversationId: req.conversationId } });
    return { audited: true };
  } catch (e) {
    await stream.return(undefined).catch(() => undefined);
    // The caller (the streaming frame) audits this failure: the lease goes without an audit row of its own.
    await replies.release('The reply could not be saved');
    throw e;
  }
}
