'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import { streamChat, type ChatRequest, type ReplyMeta } from '../../lib/chat-stream';
import { newestLeafUnder } from '../../lib/message-tree';
import { errorCode, trpc } from '../../lib/trpc';
import { useToast } from '../toast';
import { useI18n } from '../../i18n/provider';

export interface ChatMessage {
  id: string;
  parentId: string | null;
  role: string;
  content: string;
  model: string | null;
  metadata: Record<string, unknown> | null;
  createdAt: string;
}

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
  const abortRef = useRef<AbortController | null>(null);
  // The id this hook itself created: arriving at its URL must not reload (and cut) the live stream.
  const ownIdRef = useRef<string | null>(null);

  const load = useCallback(
    async (id: string, quiet = false) => {
      if (!quiet) setLoadState('loading');
      try {
        const conversation = await trpc.conversations.get.query({ id });
        const list = conversation.messages.map(toChatMessage);
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
    [toast],
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
          ({ id: created } = await trpc.conversations.create.mutate({ title: draftTitle ?? undefined, model: chosenModel }));
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
      const now = new Date().toISOString();
      const assistantParent = 'content' in request ? userLocal : request.regenerateFrom;
      setMessages((list) => [
        ...list,
        ...(userLocal && 'content' in request
          ? [{ id: userLocal, parentId: request.parentId, role: 'user', content: request.content, model: null, metadata: null, createdAt: now }]
          : []),
        { id: assistantLocal, parentId: assistantParent, role: 'assistant', content: '', model: chosenModel, metadata: { streaming: true }, createdAt: now },
      ]);
      setLeafId(assistantLocal);
      setStreaming(true);

      let assistantId = assistantLocal;
      const controller = new AbortController();
      abortRef.current = controller;
      const patchAssistant = (patch: (m: ChatMessage) => ChatMessage) =>
        setMessages((list) => list.map((m) => (m.id === assistantId ? patch(m) : m)));
      const finish = (meta: ReplyMeta) =>
        patchAssistant((m) => ({ ...m, metadata: { ...withoutStreaming(m.metadata), ...meta } }));

      try {
        const outcome = await streamChat(
          { ...request, conversationId: id, model: chosenModel, ...settings } as ChatRequest,
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
        toast.show(t('chat.streamError', { message: err instanceof Error ? err.message : String(err) }), 'error');
        // The server is the record: show what it actually kept of this turn.
        if (id) void load(id, true);
      } finally {
        if (abortRef.current === controller) abortRef.current = null;
        setStreaming(false);
        onActivity();
      }
      return true;
    },
    [conversationId, load, onActivity, onCreated, t, toast],
  );

  const stop = useCallback(() => abortRef.current?.abort(), []);

  // Leaving the page mid-stream is a stop: the server keeps the partial reply.
  useEffect(() => () => abortRef.current?.abort(), []);

  return { conversationId, model, messages, leafId, setLeafId, loadState, streaming, runTurn, stop, reload: load };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function withoutStreaming(metadata: Record<string, unknown> | null): Record<string, unknown> {
  const { streaming: _streaming, ...rest } = metadata ?? {};
  return rest;
}

function toChatMessage(m: {
  id: string;
  parentId: string | null;
  role: string;
  content: string;
  model?: string | null;
  metadata?: unknown;
  createdAt: string | Date;
}): ChatMessage {
  return {
    id: m.id,
    parentId: m.parentId,
    role: m.role,
    content: m.content,
    model: m.model ?? null,
    metadata: m.metadata && typeof m.metadata === 'object' ? (m.metadata as Record<string, unknown>) : null,
    createdAt: new Date(m.createdAt).toISOString(),
  };
}
