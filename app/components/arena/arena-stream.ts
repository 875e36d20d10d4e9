import { postEventStream } from '../../lib/event-stream';

/**
 * The browser side of POST /api/arena: one blind round, read as server-sent events. The events carry
 * sides ("a", "b"), never model names; the battle id arrives last, once both answers are stored.
 */
export type Side = 'a' | 'b';

export interface ArenaHandlers {
  onMeta(meta: { conversationId: string; userMessageId: string; maxTokens: number }): void;
  onDelta(side: Side, text: string): void;
  onSideDone(side: Side, done: { finishReason: string | null; stopped: boolean; failed: boolean }): void;
  onEnd(battleId: string): void;
}

/** Resolves 'done' after the end event or 'aborted' when the signal stopped it; rejects with EventStreamError. */
export function streamArena(body: { content: string }, handlers: ArenaHandlers, signal: AbortSignal): Promise<'done' | 'aborted'> {
  return postEventStream('/api/arena', body, signal, 'The connection closed before both answers finished.', (event, payload) => {
    if (event === 'meta') handlers.onMeta(payload);
    else if (event === 'delta') handlers.onDelta(payload.side, String(payload.text ?? ''));
    else if (event === 'side-done') handlers.onSideDone(payload.side, payload);
    else if (event === 'end') {
      handlers.onEnd(payload.battleId);
      return true;
    }
    return false;
  });
}
