'use client';

import { Fragment, useLayoutEffect, useMemo, useRef } from 'react';
import { newestLeafUnder, pathTo, siblingInfo } from '../../lib/message-tree';
import { SummaryMarker, TrimMarker } from './context-policy';
import { MessageItem } from './message-item';
import type { ChatMessage, ChatSummary } from './use-chat';

interface Props {
  messages: ChatMessage[];
  /** The conversation's summaries: the deepest one on the shown branch is marked after the message it reaches. */
  summaries: ChatSummary[];
  leafId: string | null;
  streaming: boolean;
  onLeaf(id: string): void;
  onRegenerate(userMessageId: string): void;
  onEdit(parentId: string | null, content: string, images?: string[]): void;
}

/** The branch ending at leafId, with a version switcher wherever a message has siblings. */
export function MessageList({ messages, summaries, leafId, streaming, onLeaf, onRegenerate, onEdit }: Props) {
  const path = useMemo(() => pathTo(messages, leafId), [messages, leafId]);
  const summary = useMemo(() => {
    const at = new Map(path.map((m, i) => [m.id, i]));
    return summaries.filter((s) => at.has(s.throughMessageId)).sort((a, b) => at.get(b.throughMessageId)! - at.get(a.throughMessageId)!)[0];
  }, [path, summaries]);
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
          <Fragment key={message.id}>
          {contextOf(message) && !contextOf(message)!.summarized && <TrimMarker count={contextOf(message)!.omitted} />}
          <MessageItem
            message={message}
            siblings={siblingInfo(messages, message)}
            isLastReply={i === path.length - 1 && message.role === 'assistant'}
            busy={streaming}
            onSwitch={(siblingId) => onLeaf(newestLeafUnder(messages, siblingId)?.id ?? siblingId)}
            onRegenerate={() => message.parentId && onRegenerate(message.parentId)}
            onEdit={(content, images) => onEdit(message.parentId, content, images)}
          />
          {summary?.throughMessageId === message.id && <SummaryMarker covered={summary.covered} text={summary.text} model={summary.model} />}
          </Fragment>
        ))}
      </div>
    </div>
  );
}

/** What the server recorded of the fitting on a reply (counts only). */
function contextOf(message: ChatMessage): { omitted: number; summarized: boolean } | null {
  const c = message.metadata.context as { omitted?: unknown; summarized?: unknown } | undefined;
  return c && typeof c.omitted === 'number' && c.omitted > 0 ? { omitted: c.omitted, summarized: c.summarized === true } : null;
}
