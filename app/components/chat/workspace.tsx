'use client';

import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useParams, useRouter } from 'next/navigation';
import { useEffect, useRef, useState } from 'react';
import { useI18n } from '../../i18n/provider';
import { pathTo } from '../../lib/message-tree';
import { useTRPC } from '../../lib/trpc';
import { NotFoundView } from '../not-found-view';
import { useErrorToast, useToast } from '../toast';
import { Composer } from './composer';
import { ContextPolicyMenu } from './context-policy';
import { QuotaMeter } from './quota-meter';
import { ExportMenu } from './export-menu';
import { clampSettings, loadGenerationSettings, saveGenerationSettings } from './generation-settings';
import { MessageList } from './message-list';
import { ModelPicker } from './model-picker';
import { PresetPicker, type PresetOption } from './preset-picker';
import { SystemPromptControl } from './system-prompt';
import { KnowledgePicker } from './knowledge-picker';
import { ClassificationSelect } from '../classification-select';
import { Sidebar } from './sidebar';
import { useChat, type GenerationSettings } from './use-chat';

/**
 * The chat screen for both "/" and "/c/<id>". It lives in the (chat) layout so that moving from
 * "/" to the new conversation's URL after the first send keeps the stream that is in progress.
 */
export function ChatWorkspace() {
  const { t } = useI18n();
  const toast = useToast();
  const router = useRouter();
  const params = useParams<{ id?: string }>();
  const routeId = typeof params?.id === 'string' ? params.id : undefined;

  const [search, setSearch] = useState('');
  const [searched, setSearched] = useState('');
  const [selectedModel, setSelectedModel] = useState<string | null>(null);
  const [settings, setSettings] = useState<GenerationSettings>({});
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const trpc = useTRPC();
  const queryClient = useQueryClient();

  // Searching waits for a pause in typing, so each keystroke is not a query.
  useEffect(() => {
    const timer = setTimeout(() => setSearched(search.trim()), search ? 250 : 0);
    return () => clearTimeout(timer);
  }, [search]);
  const list = useQuery(trpc.conversations.list.queryOptions({ search: searched || undefined }, { placeholderData: keepPreviousData }));
  useErrorToast(list.error);
  const conversations = list.data ?? (list.error ? [] : null);
  const refreshList = () => queryClient.invalidateQueries(trpc.conversations.list.pathFilter());
  // The model writes a conversation's title just after its first reply (server/chat/titles.ts): the list is
  // read again a moment after each turn, so that title shows without a reload.
  const titleTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => void (titleTimer.current && clearTimeout(titleTimer.current)), []);
  const refreshSoon = () => {
    void refreshList();
    if (titleTimer.current) clearTimeout(titleTimer.current);
    titleTimer.current = setTimeout(() => void refreshList(), 3_000);
  };

  useEffect(() => setSettings(loadGenerationSettings()), []);

  // Engines start after the web role, and deployments come and go: keep the model list fresh,
  // quickly while nothing is ready yet, slowly after that.
  const modelList = useQuery(trpc.models.list.queryOptions(undefined, { refetchInterval: (query) => (query.state.data?.some((m) => m.ready) ? 30_000 : 3_000) }));
  useErrorToast(modelList.error);
  const models = modelList.data ?? (modelList.error ? [] : null);
  useEffect(() => {
    if (modelList.data) setSelectedModel((current) => current ?? modelList.data.find((m) => m.ready)?.name ?? null);
  }, [modelList.data]);

  const chat = useChat({
    routeId,
    onCreated: (id) => router.replace(`/c/${id}`),
    onActivity: refreshSoon,
  });
  const presetList = useQuery(trpc.presets.list.queryOptions(undefined, { enabled: chat.loadState === 'empty' }));
  useErrorToast(presetList.error);

  /** A preset sets the model (when the user may use it now) and its generation settings for this chat. */
  function pickPreset(preset: PresetOption | null) {
    chat.choosePreset(
      preset && { id: preset.id, systemPrompt: preset.systemPrompt, context: { policy: preset.contextPolicy, turns: preset.contextTurns } },
    );
    if (!preset) {
      setSettings(loadGenerationSettings());
      return;
    }
    if (preset.model) {
      // While the model list is still loading, the preset's model is taken as it is (the send checks it).
      if (!models || models.some((m) => m.name === preset.model && m.ready)) setSelectedModel(preset.model);
      else toast.show(t('presets.modelUnavailable', { model: preset.model, current: selectedModel ?? '—' }), 'error');
    }
    // For this chat only: what the user saved as their own settings stays as it was.
    setSettings(clampSettings({ temperature: preset.temperature ?? undefined, maxTokens: preset.maxTokens ?? undefined }));
  }
  const renameConversation = useMutation(trpc.conversations.rename.mutationOptions());
  const deleteConversation = useMutation(trpc.conversations.delete.mutationOptions());

  // An opened conversation brings back the model it was using.
  useEffect(() => {
    if (chat.model) setSelectedModel(chat.model);
  }, [chat.model, chat.conversationId]);

  const turnOptions = () => {
    if (!selectedModel) {
      toast.show(t('chat.pickModel'), 'error');
      return null;
    }
    return selectedModel;
  };

  async function send(content: string, images?: string[]): Promise<boolean> {
    const model = turnOptions();
    if (!model) return false;
    const path = pathTo(chat.messages, chat.leafId);
    const parentId = path.length ? path[path.length - 1].id : null;
    return chat.runTurn({ parentId, content, ...(images ? { images } : {}) }, content.slice(0, 60), model, settings);
  }

  async function rename(id: string, title: string) {
    try {
      await renameConversation.mutateAsync({ id, title });
    } catch (err) {
      toast.error(err);
    }
    await refreshList();
  }

  async function remove(id: string) {
    try {
      await deleteConversation.mutateAsync({ id });
    } catch (err) {
      toast.error(err);
      return;
    }
    if (id === chat.conversationId) router.push('/');
    await refreshList();
  }

  const activeTitle = conversations?.find((c) => c.id === chat.conversationId)?.title;

  return (
    <div className={`app-shell${sidebarOpen ? ' sidebar-open' : ''}`}>
      <Sidebar
        conversations={conversations}
        activeId={chat.conversationId}
        search={search}
        onSearch={setSearch}
        onNew={() => {
          setSidebarOpen(false);
          router.push('/');
        }}
        onRename={rename}
        onDelete={remove}
        onNavigate={() => setSidebarOpen(false)}
      />
      <button type="button" className="sidebar-backdrop" aria-label={t('nav.closeSidebar')} onClick={() => setSidebarOpen(false)} />
      <main className="chat-main">
        <header className="chat-header">
          <button type="button" className="icon-button sidebar-toggle" aria-label={t('nav.openSidebar')} onClick={() => setSidebarOpen(true)}>
            ☰
          </button>
          <ModelPicker models={models} value={selectedModel} onChange={setSelectedModel} />
          <h1 className="chat-title" data-testid="chat-title">
            {chat.conversationId ? activeTitle || t('sidebar.untitled') : ''}
          </h1>
          {(chat.loadState === 'empty' || (chat.conversationId && chat.loadState === 'ready')) && (
            <SystemPromptControl value={chat.systemPrompt} isNew={!chat.conversationId} onSave={chat.changeSystemPrompt} />
          )}
          {chat.conversationId && chat.loadState === 'ready' && <ClassificationSelect kind="conversation" id={chat.conversationId} refreshKey={chat.streaming} />}
          {chat.conversationId && chat.loadState === 'ready' && <ExportMenu conversationId={chat.conversationId} />}
          {chat.conversationId && chat.loadState === 'ready' && <KnowledgePicker conversationId={chat.conversationId} />}
        </header>
        {chat.loadState === 'notFound' ? (
          <div className="chat-empty">
            <NotFoundView />
          </div>
        ) : chat.messages.length === 0 ? (
          <div className="chat-empty" data-testid="chat-empty">
            {chat.loadState === 'loading' ? (
              <p className="muted">{t('common.loading')}</p>
            ) : (
              <>
                <div className="brand-mark brand-mark-large" aria-hidden>
                  ◆
                </div>
                <h2>{t('chat.emptyTitle')}</h2>
                <p className="muted">{t('chat.emptyHint')}</p>
                {!chat.conversationId && <PresetPicker presets={presetList.data ?? null} value={chat.preset?.id ?? null} onChange={pickPreset} />}
              </>
            )}
          </div>
        ) : (
          <MessageList
            messages={chat.messages}
            summaries={chat.summaries}
            leafId={chat.leafId}
            streaming={chat.streaming}
            onLeaf={chat.setLeafId}
            onRegenerate={(userMessageId) => {
              const model = turnOptions();
              if (model) void chat.runTurn({ regenerateFrom: userMessageId }, null, model, settings);
            }}
            onEdit={(parentId, content, images) => {
              const model = turnOptions();
              if (model) void chat.runTurn({ parentId, content, ...(images ? { images } : {}) }, null, model, settings);
            }}
          />
        )}
        {chat.loadState !== 'notFound' && (
          <div className="composer-dock">
            <QuotaMeter refusal={chat.quotaRefusal} />
            <Composer
              streaming={chat.streaming}
              disabled={!selectedModel || chat.loadState === 'loading'}
              settings={settings}
              onSettings={(next) => {
                setSettings(next);
                saveGenerationSettings(next);
              }}
              onSend={send}
              onStop={chat.stop}
              extra={<ContextPolicyMenu value={chat.context} onChange={(next) => void chat.changeContext(next)} />}
            />
          </div>
        )}
      </main>
    </div>
  );
}
