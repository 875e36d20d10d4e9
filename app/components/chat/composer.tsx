'use client';

import { useState, type KeyboardEvent, type ReactNode } from 'react';
import { useI18n } from '../../i18n/provider';
import { GenerationSettingsPopover } from './generation-settings';
import type { GenerationSettings } from './use-chat';

interface Props {
  streaming: boolean;
  disabled: boolean;
  settings: GenerationSettings;
  onSettings(next: GenerationSettings): void;
  /** Returns false when the message was not taken (so the text stays in the box). */
  onSend(text: string): Promise<boolean>;
  onStop(): void;
  /** More controls beside the settings (the conversation's context policy). */
  extra?: ReactNode;
}

export function Composer({ streaming, disabled, settings, onSettings, onSend, onStop, extra }: Props) {
  const { t } = useI18n();
  const [text, setText] = useState('');

  async function send() {
    const content = text.trim();
    if (!content || streaming || disabled) return;
    setText('');
    const taken = await onSend(content);
    if (!taken) setText(content);
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    // isComposing: Enter that confirms a Chinese IME candidate must not send the message.
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    }
  }

  return (
    <div className="composer">
      <textarea
        className="composer-input"
        rows={Math.min(8, Math.max(2, text.split('\n').length))}
        placeholder={t('chat.placeholder')}
        aria-label={t('chat.placeholder')}
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
        data-testid="composer-input"
      />
      <div className="composer-bar">
        <GenerationSettingsPopover value={settings} onChange={onSettings} />
        {extra}
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
