import { EventSourceParserStream, ParseError, type EventSourceMessage } from 'eventsource-parser/stream';

export type { EventSourceMessage };

/** A stream that is not server-sent events, or one event larger than the reader accepts. */
export class EventStreamError extends Error {}

/**
 * The events of a server-sent event body as they arrive (`event`, `data` with its lines joined, `id`),
 * for readers off the hot path: the chat's and the arena's gateway client, tests. The gateway keeps its
 * byte scanner (gateway/sse.ts) and the load generator its own timing-critical parsing.
 *
 * One event may hold at most `maxEventChars` characters so a peer that never ends an event cannot fill
 * the memory. Leaving the loop early cancels the body, which releases the connection.
 */
export async function* serverSentEvents(body: ReadableStream<Uint8Array<ArrayBuffer>>, opts: { maxEventChars?: number } = {}): AsyncGenerator<EventSourceMessage> {
  const parser = new EventSourceParserStream({ maxBufferSize: opts.maxEventChars ?? 16 * 1024 * 1024 });
  const reader = body.pipeThrough(new TextDecoderStream()).pipeThrough(parser).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read().catch((e: unknown) => {
        throw e instanceof ParseError ? new EventStreamError(e.message) : e;
      });
      if (done) return;
      yield value;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
