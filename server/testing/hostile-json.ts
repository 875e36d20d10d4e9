import fc from 'fast-check';

/**
 * Hostile JSON for fuzz tests, from a fixed seed: the strings PostgreSQL and UTF-8 choke on (NUL, lone
 * surrogates), huge and odd numbers, wrong types, prototype keys, long strings, plausible ids, and
 * objects built from a procedure's own field names (so values get past the first check and reach
 * deeper code). Deep nesting is sent as raw text (see deepJson), since JSON.stringify itself would
 * overflow the test's stack.
 */
const nastyString = fc.oneof(
  fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '\ud83d', '', ' ', 'null', '__proto__', '../../etc/passwd', '%00', "'; DROP TABLE users; --", '<script>alert(1)</script>'),
  fc.constantFrom('00000000-0000-4000-8000-000000000000', 'not-a-uuid', 'admin', 'engineer', 'q8_0', 'chat', 'http://169.254.169.254/latest', 'file:///etc/passwd'),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.uuid(),
  fc.integer({ min: 1000, max: 70_000 }).map((n) => 'x'.repeat(n)),
);

const nastyNumber = fc.oneof(
  fc.constantFrom(0, -0, -1, 1, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 31, -(2 ** 31) - 1, 0.5, 1e-320),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const leaf = fc.oneof(nastyString, nastyNumber, fc.boolean(), fc.constant(null));

const nastyKey = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'a\u0000', '\ud800', 'id', ''), fc.string({ maxLength: 12 }));

export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(nastyKey, tie('v'), { maxKeys: 4 })),
})).v;

/** Objects with the given field names (some left out, some extra), each holding something hostile. */
export function hostileObject(fields: string[]): fc.Arbitrary<Record<string, unknown>> {
  const known = fields.length ? fc.subarray(fields) : fc.constant([] as string[]);
  return fc
    .tuple(known, fc.array(fc.tuple(nastyKey, hostileValue), { maxLength: 2 }), fc.array(hostileValue, { minLength: fields.length, maxLength: fields.length }))
    .map(([keys, extra, values]) => {
      const out: Record<string, unknown> = {};
      keys.forEach((k, i) => Object.defineProperty(out, k, { value: values[i], enumerable: true, writable: true, configurable: true }));
      for (const [k, v] of extra) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      return out;
    });
}

/** `{"<field>": [[[...]]]}` nested `depth` levels, as text. */
export function deepJson(depth: number, field = 'id'): string {
  return `{"${field}":${'['.repeat(depth)}${']'.repeat(depth)}}`;
}

/** `count` values from a fixed seed: the same inputs on every run, so a failure can be replayed. */
export function samples<T>(arb: fc.Arbitrary<T>, count: number, seed: number): T[] {
  return fc.sample(arb, { numRuns: count, seed });
}
