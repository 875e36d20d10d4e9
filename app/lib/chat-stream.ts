import type { TRPCClient } from '@trpc/client';
import type { AppRouter } from '../../server/api/router';
import { payload, readEvents, StreamError } from './event-stream';
import type { RouterInputs, RouterOutputs } from './trpc';

/**
 * The browser side of chat.send: sends one turn and reads its events as they arrive. Stopping is
 * aborting the call; the server then saves the partial reply marked stopped.
 */
export type ChatRequest = RouterInputs['chat']['send'];
type ChatEvent = RouterOutputs['chat']['send'] extends AsyncIterable<infer E> ? E : never;
type EventOf<T extends ChatEvent['type']> = Omit<Extract<ChatEvent, { type: T }>, 'type'>;

export interface ChatUsage {
  promptTokens?: number;
  completionTokens?: number;
  totalTokens?: number;
}

/** What a finished (or stopped) reply adds to its message's metadata. */
export type ReplyMeta = Partial<EventOf<'done'>>;

export interface ChatStreamHandlers {
  onMeta(meta: EventOf<'meta'>): void;
  onDelta(text: string): void;
  onDone(done: EventOf<'done'>): void;
  /** A tool call and its result, as it happens (the reply's metadata has them all once done). */
  onTool?(call: EventOf<'tool'>): void;
}

/** Resolves when the stream ends (done, or aborted by the signal); rejects with the error that ended it. */
export function streamChat(client: TRPCClient<AppRouter>, body: ChatRequest, handlers: ChatStreamHandlers, signal: AbortSignal): Promise<'done' | 'aborted'> {
  return readEvents(() => client.chat.send.mutate(body, { signal }), signal, 'The connection closed before the reply finished.', (event) => {
    switch (event.type) {
      case 'meta':
        handlers.onMeta(payload(event));
        return false;
      case 'delta':
        if (event.text) handlers.onDelta(event.text);
        return false;
      case 'done':
        handlers.onDone(payload(event));
        return true;
      case 'tool':
        handlers.onTool?.(payload(event));
        return false;
      case 'error':
        throw new StreamError(event.message, event.status);
    }
  });
}

/** Usage may be reported in OpenAI's snake_case or our camelCase; the UI reads either. */
export function normaliseUsage(usage: unknown): ChatUsage | undefined {
  if (!usage || typeof usage !== 'object') return undefined;
  const u = usage as Record<string, unknown>;
  const num = (...keys: string[]) => keys.map((k) => u[k]).find((v): v is number => typeof v === 'number');
  return {
    promptTokens: num('promptTokens', 'prompt_tokens'),
    completionTokens: num('completionTokens', 'completion_tokens'),
    totalTokens: num('totalTokens', 'total_tokens'),
  };
}
