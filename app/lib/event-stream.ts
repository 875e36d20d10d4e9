/**
 * The browser side of Enclave's streaming POST routes (/api/chat, /api/arena): sends JSON, reads the
 * server-sent events as they arrive and hands each one to the caller. Stopping is aborting the fetch.
 */
export class EventStreamError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Called per event with its name and parsed JSON; returns true for the event that ends the stream. */
export type EventHandler = (event: string, payload: any) => boolean;

/**
 * Resolves 'done' after the final event or 'aborted' when the signal stopped it. Rejects with
 * EventStreamError on an HTTP error, on an `error` event, or when the stream closes before its final
 * event (`closedEarly` says what was cut short).
 */
export async function postEventStream(url: string, body: unknown, signal: AbortSignal, closedEarly: string, onEvent: EventHandler): Promise<'done' | 'aborted'> {
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify(body), signal });
  } catch (err) {
    if (signal.aborted) return 'aborted';
    throw err;
  }
  if (!response.ok || !response.body) throw new EventStreamError(await errorText(response), response.status);

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
        if (dispatch(raw, onEvent)) finished = true;
      }
    }
  } catch (err) {
    if (signal.aborted) return 'aborted';
    throw err;
  }
  if (signal.aborted) return 'aborted';
  if (!finished) throw new EventStreamError(closedEarly, 0);
  return 'done';
}

/** Parses one SSE event (comments skipped, multi-line data joined) and passes it on; `error` events throw. */
function dispatch(raw: string, onEvent: EventHandler): boolean {
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
  if (event === 'error') throw new EventStreamError(String(payload.message ?? 'error'), Number(payload.status ?? 500));
  return onEvent(event, payload);
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
