/**
 * Checks for JSON that parses but that Enclave must not take: nesting deep enough to overflow the stack
 * of any recursive walk later (JSON.stringify, a schema, a jsonb write), and strings PostgreSQL cannot
 * store or that do not survive UTF-8 (NUL, lone surrogates). Both walks are iterative, so the check
 * itself cannot overflow, and each stops at the first problem.
 */

/** Deeper than any request Enclave or the OpenAI API defines (a tool's JSON schema rarely passes 20). */
export const MAX_JSON_DEPTH = 64;

export interface InputProblem {
  /** Where, as `messages[2].content` ('' for the value itself). */
  path: string;
  message: string;
}

/**
 * True when raw JSON text nests more than `maxDepth` arrays and objects. Scans bytes (brackets outside
 * strings), so it runs before JSON.parse and costs one pass over the body.
 */
export function exceedsJsonDepth(raw: Buffer | string, maxDepth = MAX_JSON_DEPTH): boolean {
  const text = typeof raw === 'string' ? Buffer.from(raw) : raw;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return false;
}

function badString(s: string): string | null {
  if (s.includes('\u0000')) return 'contains a NUL character (\\u0000)';
  if (!s.isWellFormed()) return 'contains an unpaired UTF-16 surrogate';
  return null;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  const safe = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key.slice(0, 40).replace(/[\u0000\ud800-\udfff]/g, '?'));
  return path ? `${path}.${safe}` : safe;
}

/**
 * The first thing in a parsed value Enclave refuses: nesting past `maxDepth`, or a string (value or
 * key) with a NUL or an unpaired surrogate. null when the value is fine.
 */
export function findInputProblem(value: unknown, maxDepth = MAX_JSON_DEPTH): InputProblem | null {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: '', depth: 0 }];
  while (stack.length) {
    const { value: v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      const bad = badString(v);
      if (bad) return { path, message: bad };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= maxDepth) return { path, message: `nests deeper than ${maxDepth} levels` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: join(path, i), depth: depth + 1 });
      continue;
    }
    const entries = Object.entries(v as Record<string, unknown>);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i]!;
      const keyProblem = badString(key);
      if (keyProblem) return { path: join(path, key), message: `has a key that ${keyProblem}` };
      stack.push({ value: child, path: join(path, key), depth: depth + 1 });
    }
  }
  return null;
}

/** "messages[2].content: contains a NUL character" or, for the whole body, "The body nests deeper than 64 levels". */
export function describeInputProblem(problem: InputProblem, whole = 'The input'): string {
  return problem.path ? `${problem.path}: ${problem.message}` : `${whole} ${problem.message}`;
}
