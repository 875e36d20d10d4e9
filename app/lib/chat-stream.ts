import { postEventStream } from './event-stream';

/**
 * The browser side of POST /api/chat: sends one turn and reads the server-sent events as they
 * arrive. Stopping is aborting the fetch; the server then saves the partial reply marked stopped.
 */
export interface ChatUsage {
  promptTokens?: number;
  completionTokens?: number;
  totalTokens?: number;
}

export interface ReplyMeta {
  finishReason?: string | null;
  usage?: ChatUsage | null;
  stopped?: boolean;
}

export type ChatRequest =
  | { conversationId: string; model: string; parentId: string | null; content: string; temperature?: number; maxTokens?: number }
  | { conversationId: string; model: string; regenerateFrom: string; temperature?: number; maxTokens?: number };

export interface ChatStreamHandlers {
  onMeta(meta: { userMessageId?: string; assistantMessageId: string; parentId: string | null }): void;
  onDelta(text: string): void;
  onDone(done: ReplyMeta): void;
}

/** Resolves when the stream ends (done, or aborted by the signal); rejects with EventStreamError on an error. */
export function streamChat(body: ChatRequest, handlers: ChatStreamHandlers, signal: AbortSignal): Promise<'done' | 'aborted'> {
  return postEventStream('/api/chat', body, signal, 'The connection closed before the reply finished.', (event, payload) => {
    switch (event) {
      case 'meta':
        handlers.onMeta(payload);
        return false;
      case 'delta':
        if (typeof payload.text === 'string' && payload.text) handlers.onDelta(payload.text);
        return false;
      case 'done':
        handlers.onDone(payload);
        return true;
      default:
        return false;
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
