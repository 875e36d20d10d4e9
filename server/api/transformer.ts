import superjson from 'superjson';

/**
 * How tRPC values travel, on both sides (the browser bundle imports this file: it may import nothing
 * but superjson).
 *
 * Answers are superjson, so what a procedure returns arrives as it was: Dates as Dates, Infinity,
 * undefined. Inputs are plain JSON on purpose: the guard (trpc.ts) checks exactly the value that was
 * sent, and nothing a client writes can make the server build Dates, Maps, BigInts or shared
 * references out of superjson's metadata. Error shapes stay plain JSON too (`{ error: { message, code,
 * data } }`): scripts, tests and the listener's own refusals (http.ts) read and write them as they are.
 */
const plainShapes = new WeakSet<object>();

/** Marks an error shape (see trpc.ts's errorFormatter) to be sent as plain JSON. */
export function plainErrorShape<T extends object>(shape: T): T {
  plainShapes.add(shape);
  return shape;
}

const isSuperjson = (value: unknown): value is { json: never } => typeof value === 'object' && value !== null && 'json' in value;

export const transformer = {
  input: {
    serialize: (value: unknown) => value,
    deserialize: (value: unknown) => value,
  },
  output: {
    serialize: (value: unknown) => (typeof value === 'object' && value !== null && plainShapes.has(value) ? value : superjson.serialize(value)),
    // superjson's envelope always has `json`; an error shape never does.
    deserialize: (value: unknown) => (isSuperjson(value) ? superjson.deserialize(value) : value),
  },
};
