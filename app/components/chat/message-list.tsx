'use client';

import { useLayoutEffect, useMemo, useRef } from 'react';
import { newestLeafUnder, pathTo, siblingInfo } from '../../lib/message-tree';
import { MessageItem } from './message-item';
import type { ChatMessage } from './use-chat';

interface Props {
  messages: ChatMessage[];
  leafId: string | null;
  streaming: boolean;
  onLeaf(id: string): void;
  onRegenerate(userMessageId: string): void;
  onEdit(parentId: string | null, content: string): void;
}

/** The branch ending at leafId, with a version switcher wherever a message has siblings. */
export function MessageList({ messages, leafId, streaming, onLeaf, onRegenerate, onEdit }: Props) {
  const path = useMemo(() => pathTo(messages, leafId), [messages, leafId]);
  const scroller = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);

  // Follow a growing reply only while the reader is at the bottom; scrolling up to read stops following.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [path]);

  return (
    <div
      className="message-scroller"
      ref={scroller}
      onScroll={(e) => {
        const el = e.currentTarget;
        pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
      }}
      data-testid="message-list"
    >
      <div className="message-column">
        {path.map((message, i) => (
          <MessageItem
            key={message.id}
            message={message}
            siblings={siblingInfo(messages, message)}
            isLastReply={i === path.length - 1 && message.role === 'assistant'}
            busy={streaming}
            onSwitch={(siblingId) => onLeaf(newestLeafUnder(messages, siblingId)?.id ?? siblingId)}
            onRegenerate={() => message.parentId && onRegenerate(message.parentId)}
            onEdit={(content) => onEdit(message.parentId, content)}
          />
        ))}
      </div>
    </div>
  );
}
