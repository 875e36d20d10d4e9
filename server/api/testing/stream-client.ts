import { createTRPCClient, httpBatchStreamLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../router';
import { transformer } from '../transformer';

/** One event of a streamed call, named by its type (meta, delta, done, sideDone, end, error). */
export interface StreamedEvent {
  event: string;
  data: any;
}

type Streamed = 'chat.send' | 'arena.start';
interface CallOptions {
  cookie?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Called with each piece of the answer's body as it was sent, so a test can search the wire itself. */
  onWire?: (text: string) => void;
}

function client(base: string, { cookie, headers, onWire }: CallOptions) {
  const tapped: typeof fetch = async (url, init) => {
    const res = await fetch(url, init);
    if (!onWire || !res.body) return res;
    const [mine, theirs] = res.body.tee();
    void mine.pipeThrough(new TextDecoderStream()).pipeTo(new WritableStream({ write: onWire })).catch(() => {});
    return new Response(theirs, res);
  };
  return createTRPCClient<AppRouter>({
    links: [httpBatchStreamLink({ url: `${base}/api/trpc`, transformer, maxItems: 1, fetch: tapped, headers: { ...(cookie ? { cookie } : {}), ...headers } })],
  });
}

/**
 * The events of a streamed procedure as they arrive, called as the browser calls it (@trpc/client over
 * httpBatchStreamLink), so a test can act mid-stream. Throws the TRPCClientError that refused or ended it.
 */
export async function* streamedEvents(base: string, path: Streamed, input: unknown, opts: CallOptions = {}): AsyncGenerator<StreamedEvent> {
  const trpc = client(base, opts);
  const call = path === 'chat.send' ? trpc.chat.send : trpc.arena.start;
  const events = await call.mutate(input as never, { signal: opts.signal });
  for await (const { type, ...data } of events) yield { event: type, data };
}

/**
 * Every event of a streamed call. `status` is what a refusal before the first event carries (its HTTP
 * status, as the client reads it), else 200; an error after the first event ends `events` as an
 * `error` event. `stopAfterDeltas` aborts the call as the stop button does once that many deltas came.
 * `raw` is the answer's body as sent.
 */
export async function callStreamed(base: string, path: Streamed, input: unknown, opts: CallOptions & { stopAfterDeltas?: number } = {}) {
  const aborter = new AbortController();
  const events: StreamedEvent[] = [];
  let raw = '';
  const outcome = (status: number, error?: { message: string; code?: string }) => ({ status, events, error, raw });
  try {
    const signal = AbortSignal.any([aborter.signal, ...(opts.signal ? [opts.signal] : [])]);
    for await (const e of streamedEvents(base, path, input, { ...opts, signal, onWire: (text) => (raw += text) })) {
      events.push(e);
      if (opts.stopAfterDeltas !== undefined && events.filter((x) => x.event === 'delta').length >= opts.stopAfterDeltas) {
        aborter.abort();
        break;
      }
    }
    return outcome(200);
  } catch (e) {
    if (aborter.signal.aborted || !(e instanceof TRPCClientError)) throw e;
    const status = (e.data as { httpStatus?: number } | undefined)?.httpStatus ?? 500;
    if (events.length === 0) return outcome(status, { message: e.message, code: (e.data as { code?: string } | undefined)?.code });
    events.push({ event: 'error', data: { message: e.message, status } });
    return outcome(200);
  }
}
