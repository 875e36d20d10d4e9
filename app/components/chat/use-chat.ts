'use client';

import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef, useState } from 'react';
import { streamChat, type ChatRequest, type ReplyMeta } from '../../lib/chat-stream';
import { newestLeafUnder } from '../../lib/message-tree';
import { errorCode, useTRPC, useTRPCClient, type RouterOutputs } from '../../lib/trpc';
import { useToast } from '../toast';
import { useI18n } from '../../i18n/provider';
import type { ContextPolicy } from './context-policy';

/** A message as the server keeps it; a turn in progress shows local ones until its meta event names them. */
export type ChatMessage = RouterOutputs['conversations']['get']['messages'][number];
export type ChatSummary = RouterOutputs['conversations']['get']['summaries'][number];

export interface GenerationSettings {
  temperature?: number;
  maxTokens?: number;
}

type LoadState = 'empty' | 'loading' | 'ready' | 'notFound' | 'failed';

/** The preset a new chat starts from: the server copies it into the conversation when it is created. */
export interface ChosenPreset {
  id: string;
  systemPrompt: string;
  context: ContextPolicy;
}

const DEFAULT_CONTEXT: ContextPolicy = { policy: 'summarize', turns: null };
const sameContext = (a: ContextPolicy, b: ContextPolicy) => a.policy === b.policy && (a.policy !== 'turns' || a.turns === b.turns);

interface Options {
  /** The conversation in the URL (undefined on "/"). */
  routeId: string | undefined;
  /** Called once a first message created the conversation, so the page can move to /c/<id>. */
  onCreated(id: string): void;
  /** Called when the list of conversations may have changed (new, new title, new activity). */
  onActivity(): void;
}

let localCounter = 0;
const localId = (kind: string) => `local-${kind}-${++localCounter}`;

/**
 * One conversation's messages and the streaming turn in progress. The messages keep their tree
 * (parentId); leafId picks which branch is shown.
 */
export function useChat({ routeId, onCreated, onActivity }: Options) {
  const toast = useToast();
  const { t } = useI18n();
  const [conversationId, setConversationId] = useState<string | null>(null);
  const [model, setModelState] = useState<string | null>(null);
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [summaries, setSummaries] = useState<ChatSummary[]>([]);
  const [context, setContext] = useState<ContextPolicy>(DEFAULT_CONTEXT);
  const [systemPrompt, setSystemPrompt] = useState('');
  // Only while the chat is new (nothing sent yet).
  const [preset, setPreset] = useState<ChosenPreset | null>(null);
  const [leafId, setLeafId] = useState<string | null>(null);
  const [loadState, setLoadState] = useState<LoadState>('empty');
  const [streaming, setStreaming] = useState(false);
  const [quotaRefusal, setQuotaRefusal] = useState<string | null>(null);
  const abortRef = useRef<AbortController | null>(null);
  // The id this hook itself created: arriving at its URL must not reload (and cut) the live stream.
  const ownIdRef = useRef<string | null>(null);
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();

  const load = useCallback(
    async (id: string, quiet = false) => {
      if (!quiet) setLoadState('loading');
      try {
        // Always the server's copy: a turn just ended changed it.
        const conversation = await queryClient.fetchQuery({ ...trpc.conversations.get.queryOptions({ id }), staleTime: 0 });
        const list = conversation.messages;
        setConversationId(conversation.id);
        setModelState(conversation.model ?? null);
        setMessages(list);
        setSummaries(conversation.summaries);
        setContext(conversation.context);
        setSystemPrompt(conversation.systemPrompt);
        setLeafId((current) => (quiet && current && list.some((m) => m.id === current) ? current : (newestLeafUnder(list, null)?.id ?? null)));
        setLoadState('ready');
      } catch (err) {
        if (errorCode(err) === 'NOT_FOUND' || errorCode(err) === 'BAD_REQUEST') setLoadState('notFound');
        else {
          setLoadState('failed');
          toast.error(err);
        }
      }
    },
    [toast, queryClient, trpc],
  );

  // Only a change of URL (re)loads: a new `load` identity (e.g. after a language switch) must not cut a stream.
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    if (routeId === undefined) {
      abortRef.current?.abort();
      ownIdRef.current = null;
      setConversationId(null);
      setMessages([]);
      setSummaries([]);
      setContext(DEFAULT_CONTEXT);
      setSystemPrompt('');
      setPreset(null);
      setLeafId(null);
      setLoadState('empty');
      return;
    }
    if (routeId === ownIdRef.current) return;
    abortRef.current?.abort();
    ownIdRef.current = null;
    void loadRef.current(routeId);
  }, [routeId]);

  const runTurn = useCallback(
    async (request: DistributiveOmit<ChatRequest, 'conversationId' | 'model'>, draftTitle: string | null, chosenModel: string, settings: GenerationSettings) => {
      let id = conversationId;
      if (!id) {
        let created: string;
        try {
          ({ id: created } = await client.conversations.create.mutate({ title: draftTitle ?? undefined, model: chosenModel, presetId: preset?.id }));
        } catch (err) {
          toast.error(err);
          return false;
        }
        id = created;
        ownIdRef.current = created;
        setConversationId(created);
        setLoadState('ready');
        onCreated(created);
        // A policy or system prompt set before the first message belongs to the conversation now made;
        // a preset's own were copied in by the server, so only a change made after picking it is sent.
        if (!sameContext(context, preset?.context ?? DEFAULT_CONTEXT))
          void client.conversations.setContext
            .mutate(context.policy === 'turns' ? { id: created, policy: 'turns', turns: context.turns ?? 6 } : { id: created, policy: context.policy })
            .catch((err: unknown) => toast.error(err));
        // Awaited: the first turn must already go out with it.
        if (systemPrompt.trim() !== (preset?.systemPrompt.trim() ?? ''))
          await client.conversations.setSystemPrompt.mutate({ id: created, systemPrompt }).catch((err: unknown) => toast.error(err));
        setPreset(null);
      }

      const userLocal = 'content' in request ? localId('user') : null;
      const assistantLocal = localId('assistant');
      const now = new Date();
      const assistantParent = 'content' in request ? userLocal : request.regenerateFrom;
      setMessages((list) => [
        ...list,
        ...(userLocal && 'content' in request
          ? [{ id: userLocal, parentId: request.parentId, role: 'user' as const, content: request.content, model: null, metadata: {}, createdAt: now, ...(request.images ? { images: request.images } : {}) }]
          : []),
        { id: assistantLocal, parentId: assistantParent, role: 'assistant' as const, content: '', model: chosenModel, metadata: { streaming: true }, createdAt: now },
      ]);
      const previousLeaf = leafId;
      setLeafId(assistantLocal);
      setStreaming(true);

      let assistantId = assistantLocal;
      // A refusal before anything was stored (data protection, a message too long for the model's
      // context, a quota) keeps the typed text in the box: runTurn answers false. The meta event is
      // the server's word that the message is stored.
      let refused = false;
      let stored = false;
      let summarized = false;
      const controller = new AbortController();
      abortRef.current = controller;
      const patchAssistant = (patch: (m: ChatMessage) => ChatMessage) =>
        setMessages((list) => list.map((m) => (m.id === assistantId ? patch(m) : m)));
      const finish = (meta: ReplyMeta) =>
        patchAssistant((m) => ({ ...m, metadata: { ...withoutStreaming(m.metadata), ...meta } }));

      try {
        setQuotaRefusal(null);
        const outcome = await streamChat(
          client,
          { ...request, conversationId: id, model: chosenModel, ...settings },
          {
            onMeta(meta) {
              stored = true;
              // What the server left out of the model's view, marked on the reply (counts only).
              const { newSummary, ...context } = meta.context ?? {};
              // A new summary was written for this turn: the thread shows it once the reply is in.
              if (newSummary) summarized = true;
              const renamed = new Map<string, string>([[assistantLocal, meta.assistantMessageId]]);
              if (userLocal && meta.userMessageId) renamed.set(userLocal, meta.userMessageId);
              assistantId = meta.assistantMessageId;
              setMessages((list) =>
                list.map((m) => {
                  const newId = renamed.get(m.id);
                  if (!newId) return m;
                  if (m.id !== assistantLocal) return { ...m, id: newId };
                  const parentId = meta.userMessageId ?? meta.parentId ?? m.parentId;
                  return { ...m, id: newId, parentId, metadata: meta.context ? { ...m.metadata, context } : m.metadata };
                }),
              );
              setLeafId(meta.assistantMessageId);
            },
            onDelta(text) {
              patchAssistant((m) => ({ ...m, content: m.content + text }));
            },
            // A plugin call shows as it happens; `done` then brings the reply's full list.
            onTool(call) {
              patchAssistant((m) => ({ ...m, metadata: { ...m.metadata, toolCalls: [...(Array.isArray(m.metadata.toolCalls) ? m.metadata.toolCalls : []), call] } }));
            },
            onDone(done) {
              finish(done);
            },
          },
          controller.signal,
        );
        if (outcome === 'aborted') finish({ stopped: true });
        if (summarized) void load(id, true);
      } catch (err) {
        patchAssistant((m) => ({ ...m, metadata: { ...withoutStreaming(m.metadata), error: true } }));
        // A quota refusal stays on screen (the meter shows it) until the next turn goes through.
        refused = !stored;
        // Nothing was stored: the local turn goes from the thread (its text is back in the composer).
        if (refused) {
          setMessages((list) => list.filter((m) => m.id !== userLocal && m.id !== assistantLocal));
          setLeafId(previousLeaf);
        }
        if (errorCode(err) === 'TOO_MANY_REQUESTS') setQuotaRefusal(err instanceof Error ? err.message : String(err));
        else toast.show(t('chat.streamError', { message: err instanceof Error ? err.message : String(err) }), 'error');
        // The server is the record: show what it actually kept of this turn.
        if (id) void load(id, true);
      } finally {
        if (abortRef.current === controller) abortRef.current = null;
        setStreaming(false);
        // The gateway adds a turn's tokens to the quota just after the reply's last byte: read the meter now
        // and once more a moment later, so it never lags a turn behind until its 30 s refresh.
        const refreshQuota = () => void queryClient.invalidateQueries({ queryKey: trpc.quotas.mine.queryKey() });
        refreshQuota();
        setTimeout(refreshQuota, 1_000);
        onActivity();
      }
      return !refused;
    },
    [conversationId, context, systemPrompt, preset, leafId, load, onActivity, onCreated, t, toast, client, queryClient, trpc],
  );

  const stop = useCallback(() => abortRef.current?.abort(), []);

  // Leaving the page mid-stream is a stop: the server keeps the partial reply.
  useEffect(() => () => abortRef.current?.abort(), []);

  /** Saves the conversation's context policy (a conversation not yet created keeps it until its first message). */
  const changeContext = useCallback(
    async (next: ContextPolicy) => {
      const previous = context;
      setContext(next);
      if (!conversationId) return;
      try {
        await client.conversations.setContext.mutate(next.policy === 'turns' ? { id: conversationId, policy: 'turns', turns: next.turns ?? 6 } : { id: conversationId, policy: next.policy });
      } catch (err) {
        setContext(previous);
        toast.error(err);
      }
    },
    [client, context, conversationId, toast],
  );

  /** Saves the conversation's system prompt ('' removes it); a new chat keeps it until its first message. Answers whether it was kept. */
  const changeSystemPrompt = useCallback(
    async (next: string): Promise<boolean> => {
      if (!conversationId) {
        setSystemPrompt(next.trim());
        return true;
      }
      try {
        await client.conversations.setSystemPrompt.mutate({ id: conversationId, systemPrompt: next });
        setSystemPrompt(next.trim());
        return true;
      } catch (err) {
        toast.error(err);
        return false;
      }
    },
    [client, conversationId, toast],
  );

  /** A new chat starts from this preset (null: from none): its system prompt and context policy show at once. */
  const choosePreset = useCallback(
    (next: ChosenPreset | null) => {
      if (conversationId) return;
      setPreset(next);
      setSystemPrompt(next?.systemPrompt ?? '');
      setContext(next?.context ?? DEFAULT_CONTEXT);
    },
    [conversationId],
  );

  return {
    conversationId,
    model,
    messages,
    summaries,
    context,
    changeContext,
    systemPrompt,
    changeSystemPrompt,
    preset,
    choosePreset,
    leafId,
    setLeafId,
    loadState,
    streaming,
    runTurn,
    stop,
    reload: load,
    quotaRefusal,
  };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function withoutStreaming(metadata: Record<string, unknown>): Record<string, unknown> {
  const { streaming: _streaming, ...rest } = metadata;
  return rest;
}
