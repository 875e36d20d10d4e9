'use client';

import { useState, type KeyboardEvent, type ReactNode } from 'react';
import { useI18n } from '../../i18n/provider';
import { GenerationSettingsPopover } from './generation-settings';
import { AttachButton, ImageChips, useImageAttachments } from './image-attach';
import { VoiceInput } from './voice-input';
import type { GenerationSettings } from './use-chat';

interface Props {
  streaming: boolean;
  disabled: boolean;
  settings: GenerationSettings;
  onSettings(next: GenerationSettings): void;
  /** Returns false when the message was not taken (so the text and images stay in the box). */
  onSend(text: string, images?: string[]): Promise<boolean>;
  onStop(): void;
  /** More controls beside the settings (the conversation's context policy). */
  extra?: ReactNode;
}

export function Composer({ streaming, disabled, settings, onSettings, onSend, onStop, extra }: Props) {
  const { t } = useI18n();
  const [text, setText] = useState('');
  const attachments = useImageAttachments();

  async function send() {
    const content = text.trim();
    if (!content || streaming || disabled) return;
    const images = attachments.images;
    setText('');
    attachments.clear();
    const taken = await onSend(content, images.length ? images.map((i) => i.dataUrl) : undefined);
    if (!taken) {
      setText(content);
      attachments.setImages(images);
    }
  }

  /** Pasted or dropped files: the images among them are attached (text pastes as usual). */
  function takeFiles(files: FileList | undefined, prevent: () => void) {
    const images = [...(files ?? [])].filter((f) => f.type.startsWith('image/'));
    if (images.length === 0) return;
    prevent();
    void attachments.add(images);
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    // isComposing: Enter that confirms a Chinese IME candidate must not send the message.
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    }
  }

  return (
    <div
      className="composer"
      onDragOver={(e) => e.dataTransfer.types.includes('Files') && e.preventDefault()}
      onDrop={(e) => takeFiles(e.dataTransfer.files, () => e.preventDefault())}
    >
      <ImageChips images={attachments.images} onRemove={attachments.remove} />
      <textarea
        className="composer-input"
        rows={Math.min(8, Math.max(2, text.split('\n').length))}
        placeholder={t('chat.placeholder')}
        aria-label={t('chat.placeholder')}
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
        onPaste={(e) => takeFiles(e.clipboardData.files, () => e.preventDefault())}
        data-testid="composer-input"
      />
      <div className="composer-bar">
        <GenerationSettingsPopover value={settings} onChange={onSettings} />
        {extra}
        <AttachButton onFiles={(files) => void attachments.add(files)} disabled={disabled} />
        <VoiceInput onText={(spoken) => setText((current) => (current.trim() ? `${current.trimEnd()} ${spoken}` : spoken))} disabled={disabled || streaming} />
        <span className="spacer" />
        {streaming ? (
          <button type="button" className="button button-danger" onClick={onStop} data-testid="stop">
            ■ {t('chat.stop')}
          </button>
        ) : (
          <button type="button" className="button button-primary" onClick={() => void send()} disabled={disabled || !text.trim()} data-testid="send">
            {t('chat.send')}
          </button>
        )}
      </div>
    </div>
  );
}
