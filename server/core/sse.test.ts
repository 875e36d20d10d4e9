import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EventStreamError, serverSentEvents, type EventSourceMessage } from './sse';

/** A body that arrives in the given pieces, as a network splits it. */
function bodyOf(pieces: Uint8Array<ArrayBuffer>[]): ReadableStream<Uint8Array<ArrayBuffer>> {
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(piece);
      controller.close();
    },
  });
}

async function all(body: ReadableStream<Uint8Array<ArrayBuffer>>, opts?: { maxEventChars?: number }): Promise<EventSourceMessage[]> {
  const events: EventSourceMessage[] = [];
  for await (const event of serverSentEvents(body, opts)) events.push(event);
  return events;
}

const servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.closeAllConnections(), s.close();
});

describe('serverSentEvents', () => {
  const text =
    ': keep-alive\r\n\r\n' +
    'data: {"choices":[{"delta":{"content":"Grüße 👋"}}]}\r\n\r\n' +
    'event: delta\ndata: {"text":"a"}\n\n' +
    'data: first line\ndata: second line\nid: 7\n\n' +
    'data: [DONE]\n\n';
  const expected = [
    { data: '{"choices":[{"delta":{"content":"Grüße 👋"}}]}', event: undefined, id: undefined },
    { data: '{"text":"a"}', event: 'delta', id: undefined },
    { data: 'first line\nsecond line', event: undefined, id: '7' },
    { data: '[DONE]', event: undefined, id: undefined },
  ];

  it('reads events however the bytes are split, characters of several bytes included', async () => {
    const bytes = new TextEncoder().encode(text);
    expect(await all(bodyOf([bytes]))).toEqual(expected);
    expect(await all(bodyOf([...bytes].map((b) => Uint8Array.of(b))))).toEqual(expected);
    expect(await all(bodyOf([bytes.subarray(0, 50), bytes.subarray(50, 51), bytes.subarray(51)]))).toEqual(expected);
  });

  it('refuses an event larger than the reader accepts instead of buffering it', async () => {
    const endless = new TextEncoder().encode(`data: ${'x'.repeat(5000)}`);
    await expect(all(bodyOf([endless]), { maxEventChars: 1000 })).rejects.toThrow(EventStreamError);
    expect(await all(bodyOf([new TextEncoder().encode('data: short\n\n')]), { maxEventChars: 1000 })).toEqual([{ data: 'short', event: undefined, id: undefined }]);
  });

  it('closes the connection when the reader stops early', async () => {
    let closed!: () => void;
    const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      res.on('close', closed);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    for await (const event of serverSentEvents(res.body!)) {
      expect(event.data).toBe('one');
      break;
    }
    await connectionClosed;
  });
});
