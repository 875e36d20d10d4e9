/**
 * The browser side of a streamed procedure (chat.send, arena.start): reads its events as they arrive and
 * hands each one to the caller. Stopping is aborting the call's signal.
 */

/** A failure the stream itself reported after it started (the reply was saved, marked failed). */
export class StreamError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * Resolves 'done' after the event for which `onEvent` returns true, or 'aborted' when the signal
 * stopped the call. Rejects with the error that refused or ended it, or when the stream closed before
 * its last event (`closedEarly` says what was cut short).
 */
export async function readEvents<E>(call: () => Promise<AsyncIterable<E>>, signal: AbortSignal, closedEarly: string, onEvent: (event: E) => boolean): Promise<'done' | 'aborted'> {
  try {
    for await (const event of await call()) if (onEvent(event)) return 'done';
  } catch (err) {
    if (signal.aborted) return 'aborted';
    throw err;
  }
  if (signal.aborted) return 'aborted';
  throw new StreamError(closedEarly, 0);
}

/** An event's fields without its type tag. */
export function payload<E extends { type: string }>({ type: _type, ...rest }: E): Omit<E, 'type'> {
  return rest;
}
