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

export class ArenaStreamError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Resolves 'done' after the end event or 'aborted' when the signal stopped it; rejects with ArenaStreamError. */
export async function streamArena(body: { content: string }, handlers: ArenaHandlers, signal: AbortSignal): Promise<'done' | 'aborted'> {
  let response: Response;
  try {
    response = await fetch('/api/arena', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify(body), signal });
  } catch (err) {
    if (signal.aborted) return 'aborted';
    throw err;
  }
  if (!response.ok || !response.body) throw new ArenaStreamError(await errorText(response), response.status);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let ended = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let boundary: number;
      while ((boundary = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        if (dispatch(block, handlers)) ended = true;
      }
    }
  } catch (err) {
    if (signal.aborted) return 'aborted';
    throw err;
  }
  if (signal.aborted) return 'aborted';
  if (!ended) throw new ArenaStreamError('The connection closed before both answers finished.', 0);
  return 'done';
}

function dispatch(block: string, handlers: ArenaHandlers): boolean {
  let event = 'message';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (!data) return false;
  const payload = JSON.parse(data);
  if (event === 'meta') handlers.onMeta(payload);
  else if (event === 'delta') handlers.onDelta(payload.side, String(payload.text ?? ''));
  else if (event === 'side-done') handlers.onSideDone(payload.side, payload);
  else if (event === 'end') {
    handlers.onEnd(payload.battleId);
    return true;
  } else if (event === 'error') throw new ArenaStreamError(String(payload.message ?? 'error'), Number(payload.status ?? 500));
  return false;
}

async function errorText(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const message = JSON.parse(text)?.error?.message;
    if (typeof message === 'string' && message) return message;
  } catch {
    // not JSON: the status line says enough
  }
  return `${response.status} ${response.statusText}`.trim();
}
