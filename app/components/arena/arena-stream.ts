import type { TRPCClient } from '@trpc/client';
import type { AppRouter } from '../../../server/api/router';
import { payload, readEvents } from '../../lib/event-stream';
import type { RouterOutputs } from '../../lib/trpc';

/**
 * The browser side of arena.start: one blind round, read as it streams. The events carry sides ("a",
 * "b"), never model names; the battle id arrives last, once both answers are stored.
 */
type ArenaEvent = RouterOutputs['arena']['start'] extends AsyncIterable<infer E> ? E : never;
type EventOf<T extends ArenaEvent['type']> = Omit<Extract<ArenaEvent, { type: T }>, 'type'>;
export type Side = EventOf<'delta'>['side'];

export interface ArenaHandlers {
  onMeta(meta: EventOf<'meta'>): void;
  onDelta(side: Side, text: string): void;
  onSideDone(side: Side, done: EventOf<'sideDone'>): void;
  onEnd(battleId: string): void;
}

/** Resolves 'done' after the end event or 'aborted' when the signal stopped it; rejects with the error that ended it. */
export function streamArena(client: TRPCClient<AppRouter>, body: { content: string }, handlers: ArenaHandlers, signal: AbortSignal): Promise<'done' | 'aborted'> {
  return readEvents(() => client.arena.start.mutate(body, { signal }), signal, 'The connection closed before both answers finished.', (event) => {
    if (event.type === 'meta') handlers.onMeta(payload(event));
    else if (event.type === 'delta') handlers.onDelta(event.side, event.text);
    else if (event.type === 'sideDone') handlers.onSideDone(event.side, payload(event));
    else if (event.type === 'end') {
      handlers.onEnd(event.battleId);
      return true;
    }
    return false;
  });
}
