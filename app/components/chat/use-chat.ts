'use client';

import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef, useState } from 'react';
import { streamChat, type ChatRequest, type ReplyMeta } from '../../lib/chat-stream';
import { newestLeafUnder } from '../../lib/message-tree';
import { errorCode, useTRPC, useTRPCClient, type RouterOutputs } from '../../lib/trpc';
import { useToast } from '../toast';
import { useI18n } from '../../i18n/provider';

/** A message as the server keeps it; a turn in progress shows local ones until its meta event names them. */
export type ChatMessage = RouterOutputs['conversations']['get']['messages'][number];

export interface GenerationSettings {
  temperature?: number;
  maxTokens?: number;
}

type LoadState = 'empty' | 'loading' | 'ready' | 'notFound' | 'failed';

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
          ({ id: created } = await client.conversations.create.mutate({ title: draftTitle ?? undefined, model: chosenModel }));
        } catch (err) {
          toast.error(err);
          return false;
        }
        id = created;
        ownIdRef.current = created;
        setConversationId(created);
        setLoadState('ready');
        onCreated(created);
      }

      const userLocal = 'content' in request ? localId('user') : null;
      const assistantLocal = localId('assistant');
      const now = new Date();
      const assistantParent = 'content' in request ? userLocal : request.regenerateFrom;
      setMessages((list) => [
        ...list,
        ...(userLocal && 'content' in request
          ? [{ id: userLocal, parentId: request.parentId, role: 'user' as const, content: request.content, model: null, metadata: {}, createdAt: now }]
          : []),
        { id: assistantLocal, parentId: assistantParent, role: 'assistant' as const, content: '', model: chosenModel, metadata: { streaming: true }, createdAt: now },
      ]);
      setLeafId(assistantLocal);
      setStreaming(true);

      let assistantId = assistantLocal;
      // A refusal before anything was stored (data protection: the deployment may not receive this
      // conversation's level) keeps the typed text in the box: runTurn answers false.
      let refused = false;
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
              const renamed = new Map<string, string>([[assistantLocal, meta.assistantMessageId]]);
              if (userLocal && meta.userMessageId) renamed.set(userLocal, meta.userMessageId);
              assistantId = meta.assistantMessageId;
              setMessages((list) =>
                list.map((m) => {
                  const newId = renamed.get(m.id);
                  if (!newId) return m;
                  const parentId = m.id === assistantLocal ? (meta.userMessageId ?? meta.parentId ?? m.parentId) : m.parentId;
                  return { ...m, id: newId, parentId };
                }),
              );
              setLeafId(meta.assistantMessageId);
            },
            onDelta(text) {
              patchAssistant((m) => ({ ...m, content: m.content + text }));
            },
            onDone(done) {
              finish(done);
            },
          },
          controller.signal,
        );
        if (outcome === 'aborted') finish({ stopped: true });
      } catch (err) {
        patchAssistant((m) => ({ ...m, metadata: { ...withoutStreaming(m.metadata), error: true } }));
        // A quota refusal stays on screen (the meter shows it) until the next turn goes through.
        refused = errorCode(err) === 'FORBIDDEN';
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
    [conversationId, load, onActivity, onCreated, t, toast, client, queryClient, trpc],
  );

  const stop = useCallback(() => abortRef.current?.abort(), []);

  // Leaving the page mid-stream is a stop: the server keeps the partial reply.
  useEffect(() => () => abortRef.current?.abort(), []);

  return { conversationId, model, messages, leafId, setLeafId, loadState, streaming, runTurn, stop, reload: load, quotaRefusal };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function withoutStreaming(metadata: Record<string, unknown>): Record<string, unknown> {
  const { streaming: _streaming, ...rest } = metadata;
  return rest;
}
