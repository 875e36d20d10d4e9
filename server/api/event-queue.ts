/**
 * The events a callback-style run emits (a chat turn's sink, a Redis listener), as an async generator a
 * streaming procedure can yield from. Events come out in order; the run's error is thrown after the
 * events emitted before it. A consumer that leaves early (the client went away, so the run has seen the
 * abort signal) waits for the run to end, and the run's error, if any, is thrown from `return()`: a
 * failure after the client left is still audited by the stream's frame (trpc.ts).
 */
export async function* eventQueue<E>(run: (emit: (event: E) => void) => Promise<unknown>): AsyncGenerator<E, void> {
  const queue: E[] = [];
  let wake: (() => void) | undefined;
  let outcome: { failed: false } | { failed: true; error: unknown } | undefined;
  let thrown = false;
  const finished = run((event) => {
    queue.push(event);
    wake?.();
  }).then(
    () => void (outcome = { failed: false }),
    (error: unknown) => void (outcome = { failed: true, error }),
  );
  void finished.then(() => wake?.());
  try {
    for (;;) {
      if (queue.length > 0) yield queue.shift()!;
      else if (outcome?.failed) {
        thrown = true;
        throw outcome.error;
      } else if (outcome) return;
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    wake = undefined;
    await finished;
    if (outcome?.failed && !thrown) throw outcome.error;
  }
}

/** The events of a sink interface (a chat turn's, an arena round's): `{ type: method, ...argument }` per method. */
export type SinkEvent<S> = { [K in keyof S]: S[K] extends (data: infer D) => void ? { type: K } & D : never }[keyof S];

/** A sink each of whose calls is emitted as the event `{ type: method, ...argument }`. */
export function sinkTo<S extends object>(emit: (event: SinkEvent<S>) => void): S {
  return new Proxy({} as S, { get: (_, type) => (data: object) => emit({ type, ...data } as SinkEvent<S>) });
}
