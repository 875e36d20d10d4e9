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

export class ChatStreamError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Resolves when the stream ends (done, or aborted by the signal); rejects with ChatStreamError on an error. */
export async function streamChat(body: ChatRequest, handlers: ChatStreamHandlers, signal: AbortSignal): Promise<'done' | 'aborted'> {
  let response: Response;
  try {
    response = await fetch('/api/chat', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (signal.aborted) return 'aborted';
    throw err;
  }
  if (!response.ok || !response.body) throw new ChatStreamError(await errorText(response), response.status);

  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let boundary: number;
      while ((boundary = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const raw = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary).replace(/^\r?\n\r?\n/, '');
        if (dispatch(raw, handlers)) finished = true;
      }
    }
  } catch (err) {
    if (signal.aborted) return 'aborted';
    throw err;
  }
  if (signal.aborted) return 'aborted';
  if (!finished) throw new ChatStreamError('The connection closed before the reply finished.', 0);
  return 'done';
}

/** Handles one SSE event; returns true for the final `done` event. */
function dispatch(raw: string, handlers: ChatStreamHandlers): boolean {
  let event = 'message';
  const data: string[] = [];
  for (const line of raw.split(/\r?\n/)) {
    if (line.startsWith(':')) continue; // keep-alive comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return false;
  const payload = JSON.parse(data.join('\n'));
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
    case 'error':
      throw new ChatStreamError(String(payload.message ?? 'error'), Number(payload.status ?? 500));
    default:
      return false;
  }
}

async function errorText(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const json = JSON.parse(text);
    const message = json?.error?.message ?? json?.message ?? json?.error;
    if (typeof message === 'string' && message) return message;
  } catch {
    // not JSON: fall through to the status line
  }
  return `${response.status} ${response.statusText}`.trim();
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
