import YAML from 'yaml';

/**
 * The Go template and Sprig functions charts/enclave uses, with Helm's behaviour. Only these: a chart
 * that calls another function fails to render here (execute.ts names it) instead of rendering wrong.
 */

export interface FunctionContext {
  include(name: string, dot: unknown): string;
}

type Fn = (ctx: FunctionContext, ...args: unknown[]) => unknown;

/** Go's and Sprig's "empty": nil, false, 0, "", and empty lists and maps. */
export function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

function str(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new Error(`expected a string, got a ${Array.isArray(v) ? 'list' : typeof v}`);
}

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  throw new Error(`expected a number, got ${JSON.stringify(v)}`);
}

/** Helm's toYaml: YAML 1.1 quoting (as Kubernetes' parser reads it), sorted keys, no trailing newline. */
export function toYaml(v: unknown): string {
  if (v === undefined) v = null;
  return YAML.stringify(v, { version: '1.1', sortMapEntries: true, lineWidth: 0 }).replace(/\n$/, '');
}

function indentLines(n: number, text: string): string {
  const pad = ' '.repeat(n);
  return pad + text.replaceAll('\n', '\n' + pad);
}

/** Go's fmt verbs the chart uses: %s, %d, %v, %%. */
function printf(format: string, args: unknown[]): string {
  let i = 0;
  return format.replace(/%([sdvq%])/g, (_, verb: string) => {
    if (verb === '%') return '%';
    if (i >= args.length) throw new Error(`printf: missing argument for %${verb}`);
    const a = args[i++];
    if (verb === 'd') return String(Math.trunc(num(a)));
    if (verb === 'q') return JSON.stringify(str(a));
    return str(a);
  });
}

function equal(a: unknown, b: unknown): boolean {
  if (typeof a === 'object' || typeof b === 'object') {
    if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
    throw new Error('eq compares basic values only');
  }
  return a === b;
}

export const FUNCTIONS: Record<string, Fn> = {
  include: (ctx, name, dot) => ctx.include(str(name), dot),
  toYaml: (_, v) => toYaml(v),
  toJson: (_, v) => JSON.stringify(v ?? null),
  indent: (_, n, text) => indentLines(num(n), str(text)),
  nindent: (_, n, text) => '\n' + indentLines(num(n), str(text)),
  quote: (_, ...args) => args.filter((a) => a !== null && a !== undefined).map((a) => JSON.stringify(str(a))).join(' '),
  squote: (_, ...args) => args.filter((a) => a !== null && a !== undefined).map((a) => `'${str(a)}'`).join(' '),
  default: (_, fallback, ...given) => (given.length === 0 || isEmpty(given[0]) ? fallback : given[0]),
  required: (_, message, v) => {
    if (v === null || v === undefined || v === '') throw new Error(str(message));
    return v;
  },
  fail: (_, message) => {
    throw new Error(str(message));
  },
  ternary: (_, ifTrue, ifFalse, cond) => (cond === true ? ifTrue : ifFalse),
  printf: (_, format, ...args) => printf(str(format), args),
  print: (_, ...args) => args.map(str).join(''),
  empty: (_, v) => isEmpty(v),
  not: (_, v) => isEmpty(v),
  and: (_, ...args) => args.find((a) => isEmpty(a)) ?? args[args.length - 1],
  or: (_, ...args) => args.find((a) => !isEmpty(a)) ?? args[args.length - 1],
  eq: (_, a, ...bs) => bs.some((b) => equal(a, b)),
  ne: (_, a, b) => !equal(a, b),
  lt: (_, a, b) => num(a) < num(b),
  gt: (_, a, b) => num(a) > num(b),
  le: (_, a, b) => num(a) <= num(b),
  ge: (_, a, b) => num(a) >= num(b),
  int: (_, v) => Math.trunc(num(v)),
  trimSuffix: (_, suffix, s) => (str(s).endsWith(str(suffix)) ? str(s).slice(0, -str(suffix).length) : str(s)),
  trunc: (_, n, s) => str(s).slice(0, num(n)),
  lower: (_, s) => str(s).toLowerCase(),
  index: (_, collection, ...keys) => {
    let v: unknown = collection;
    for (const k of keys) {
      if (v === null || v === undefined || typeof v !== 'object') throw new Error(`index of ${JSON.stringify(k)} into a ${v === null || v === undefined ? 'nil' : typeof v}`);
      v = Array.isArray(v) ? v[num(k)] : Object.hasOwn(v, str(k)) ? (v as Record<string, unknown>)[str(k)] : undefined;
    }
    return v;
  },
  hasKey: (_, map, key) => typeof map === 'object' && map !== null && Object.prototype.hasOwnProperty.call(map, str(key)),
  list: (_, ...args) => args,
  concat: (_, ...lists) => lists.flatMap((l) => {
    if (!Array.isArray(l)) throw new Error('concat joins lists only');
    return l;
  }),
  dict: (_, ...args) => {
    if (args.length % 2) throw new Error('dict needs key and value pairs');
    const out: Record<string, unknown> = {};
    for (let i = 0; i < args.length; i += 2) out[str(args[i])] = args[i + 1];
    return out;
  },
  merge: (_, target, ...sources) => {
    // Sprig's merge: keys already in the target win; nested maps merge the same way.
    const mergeInto = (t: Record<string, unknown>, s: Record<string, unknown>) => {
      for (const [k, v] of Object.entries(s)) {
        if (!(k in t)) t[k] = v;
        else if (t[k] && v && typeof t[k] === 'object' && typeof v === 'object' && !Array.isArray(v)) mergeInto(t[k] as Record<string, unknown>, v as Record<string, unknown>);
      }
    };
    for (const s of sources) mergeInto(target as Record<string, unknown>, (s ?? {}) as Record<string, unknown>);
    return target;
  },
};
