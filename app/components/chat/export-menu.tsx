'use client';

import { useRef } from 'react';
import { useI18n } from '../../i18n/provider';

/** Plain download links: the server sends the file with its Content-Disposition. */
export function ExportMenu({ conversationId }: { conversationId: string }) {
  const { t } = useI18n();
  const menu = useRef<HTMLDetailsElement>(null);
  const base = `/api/conversations/${encodeURIComponent(conversationId)}/export`;
  // A <details> stays open after a choice; close it like any menu would.
  const close = () => menu.current?.removeAttribute('open');
  return (
    <details className="menu" ref={menu}>
      <summary className="button button-quiet" data-testid="export-menu">
        {t('chat.export')}
      </summary>
      <div className="menu-panel card">
        <a href={`${base}?format=json`} download onClick={close} data-testid="export-json">
          {t('chat.exportJson')}
        </a>
        <a href={`${base}?format=md`} download onClick={close} data-testid="export-md">
          {t('chat.exportMarkdown')}
        </a>
      </div>
    </details>
  );
}
