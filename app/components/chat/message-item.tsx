'use client';

import { useState, type KeyboardEvent } from 'react';
import { useI18n } from '../../i18n/provider';
import { normaliseUsage } from '../../lib/chat-stream';
import type { SiblingInfo } from '../../lib/message-tree';
import { FeedbackButtons } from '../experiments/feedback-buttons';
import { UserIcon } from '../icons';
import { Markdown } from './markdown';
import { ToolCalls } from './tool-call';
import { AttachButton, ImageChips, MessageImages, useImageAttachments } from './image-attach';
import { ReadAloud } from './read-aloud';
import type { ChatMessage } from './use-chat';
import { KnowledgeCitations } from './knowledge-citations';
import { KnowledgeWithheld } from './knowledge-withheld';

interface Props {
  message: ChatMessage;
  siblings: SiblingInfo;
  isLastReply: boolean;
  busy: boolean;
  onSwitch(siblingId: string): void;
  onRegenerate(): void;
  /** The edited text and the images kept (or added): an edit keeps the message's images unless removed. */
  onEdit(content: string, images?: string[]): void;
}

export function MessageItem({ message, siblings, isLastReply, busy, onSwitch, onRegenerate, onEdit }: Props) {
  const { t } = useI18n();
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(message.content);
  const draftImages = useImageAttachments();
  const isUser = message.role === 'user';
  const meta = message.metadata ?? {};
  const live = meta.streaming === true;

  function submitEdit() {
    const content = draft.trim();
    if (!content) return;
    setEditing(false);
    const images = draftImages.images.map((i) => i.dataUrl);
    onEdit(content, images.length ? images : undefined);
  }
  function startEdit() {
    setDraft(message.content);
    draftImages.setImages((message.images ?? []).map((dataUrl, i) => ({ dataUrl, name: `image-${i + 1}` })));
    setEditing(true);
  }
  function onEditKey(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      submitEdit();
    }
    if (e.key === 'Escape') setEditing(false);
  }

  return (
    <article className={`message message-${isUser ? 'user' : 'assistant'}`} data-testid={`message-${isUser ? 'user' : 'assistant'}`} data-message-id={message.id} data-streaming={live ? 'true' : 'false'}>
      <div className="message-avatar" aria-hidden>
        {isUser ? <UserIcon /> : '◆'}
      </div>
      <div className="message-body">
        <div className="message-author">{isUser ? t('chat.you') : (message.model ?? t('chat.assistant'))}</div>
        {editing ? (
          <div className="message-edit">
            <ImageChips images={draftImages.images} onRemove={draftImages.remove} />
            <textarea
              value={draft}
              autoFocus
              rows={Math.min(10, draft.split('\n').length + 1)}
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={onEditKey}
              onPaste={(e) => {
                const files = [...e.clipboardData.files].filter((f) => f.type.startsWith('image/'));
                if (files.length) {
                  e.preventDefault();
                  void draftImages.add(files);
                }
              }}
              data-testid="edit-input"
            />
            <div className="message-edit-actions">
              <AttachButton onFiles={(files) => void draftImages.add(files)} disabled={busy} />
              <button type="button" className="button" onClick={() => setEditing(false)}>
                {t('common.cancel')}
              </button>
              <button type="button" className="button button-primary" onClick={submitEdit} disabled={busy || !draft.trim()} data-testid="edit-save">
                {t('chat.editSave')}
              </button>
            </div>
          </div>
        ) : (
          <div className="message-content" data-testid="message-content">
            <MessageImages images={message.images} />
            {!isUser && <ToolCalls calls={meta.toolCalls} />}
            <Markdown text={message.content} />
            {live && <span className="cursor" aria-hidden />}
          </div>
        )}
        {!editing && (
          <div className="message-footer">
            {siblings.count > 1 && (
              <span className="branch-switcher" data-testid="branch-switcher">
                <button type="button" className="icon-button" disabled={busy || !siblings.previousId} aria-label={t('chat.previousBranch')} onClick={() => siblings.previousId && onSwitch(siblings.previousId)} data-testid="branch-previous">
                  ‹
                </button>
                <span data-testid="branch-position">
                  {siblings.index + 1}/{siblings.count}
                </span>
                <button type="button" className="icon-button" disabled={busy || !siblings.nextId} aria-label={t('chat.nextBranch')} onClick={() => siblings.nextId && onSwitch(siblings.nextId)} data-testid="branch-next">
                  ›
                </button>
              </span>
            )}
            {!isUser && !live && <ReplyDetails metadata={meta} />}
            {!isUser && !live && <KnowledgeCitations citations={meta.citations} />}
            {!isUser && !live && <KnowledgeWithheld withheld={meta.withheld} />}
            <span className="message-actions">
              {!live && <CopyButton text={message.content} />}
              {!isUser && !live && meta.failed !== true && <ReadAloud text={message.content} />}
              {!isUser && !live && meta.failed !== true && <FeedbackButtons messageId={message.id} initial={meta.feedback} />}
              {isUser && (
                <button type="button" className="text-button" disabled={busy} onClick={startEdit} data-testid="edit-message">
                  {t('chat.edit')}
                </button>
              )}
              {!isUser && isLastReply && !live && (
                <button type="button" className="text-button" disabled={busy} onClick={onRegenerate} data-testid="regenerate">
                  {t('chat.regenerate')}
                </button>
              )}
            </span>
          </div>
        )}
      </div>
    </article>
  );
}

/** Finish reason and token usage, kept small and quiet under the reply. */
function ReplyDetails({ metadata }: { metadata: Record<string, unknown> }) {
  const { t } = useI18n();
  const usage = normaliseUsage(metadata.usage);
  const finishReason = (metadata.finishReason ?? metadata.finish_reason) as string | undefined;
  return (
    <span className="reply-details muted" data-testid="reply-details">
      {metadata.stopped === true && (
        <span className="badge" data-testid="reply-stopped">
          {t('chat.stopped')}
        </span>
      )}
      {metadata.interrupted === true && (
        <span className="badge" data-testid="reply-interrupted" title={t('chat.interruptedHint')}>
          {t('chat.interrupted')}
        </span>
      )}
      {usage && (usage.promptTokens !== undefined || usage.completionTokens !== undefined) && (
        <span data-testid="reply-usage">{t('chat.tokens', { prompt: usage.promptTokens ?? '–', completion: usage.completionTokens ?? '–' })}</span>
      )}
      {finishReason && <span>{t('chat.finish', { reason: finishReason })}</span>}
    </span>
  );
}

function CopyButton({ text }: { text: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="text-button"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => {
          setCopied(true);
          setTimeout(() => setCopied(false), 1500);
        });
      }}
    >
      {copied ? t('common.copied') : t('chat.copy')}
    </button>
  );
}
