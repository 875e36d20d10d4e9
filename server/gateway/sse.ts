/**
 * Byte-level reading of an engine's SSE stream. The gateway passes bytes through untouched and only needs
 * two facts: when the first token went by, and the `usage` numbers. Both are found with indexOf on the
 * raw bytes, so ordinary chunks are never decoded or JSON-parsed.
 */
const QUOTE = 0x22;
const SPACE = 0x20;
const NEWLINE = 0x0a;

const TOKEN_KEYS = ['"content":', '"text":', '"reasoning_content":'].map((k) => Buffer.from(k));
const TOOL_CALLS = Buffer.from('"tool_calls":');
const USAGE = Buffer.from('"usage":');
const DATA = Buffer.from('data:');
const CHOICES_EMPTY = /"choices"\s*:\s*\[\s*\]/;

function skipSpaces(buf: Buffer, i: number): number {
  while (i < buf.length && buf[i] === SPACE) i++;
  return i;
}

/** True when the buffer holds a delta with visible output: non-empty content or text, or a tool call. */
export function containsToken(buf: Buffer): boolean {
  for (const key of TOKEN_KEYS) {
    let from = 0;
    for (;;) {
      const at = buf.indexOf(key, from);
      if (at === -1) break;
      const v = skipSpaces(buf, at + key.length);
      if (buf[v] === QUOTE && buf[v + 1] !== QUOTE) return true;
      from = at + key.length;
    }
  }
  const at = buf.indexOf(TOOL_CALLS);
  if (at !== -1) {
    const v = skipSpaces(buf, at + TOOL_CALLS.length);
    if (buf[v] === 0x5b /* [ */) return true;
  }
  return false;
}

/** Index just past the last complete event ("\n\n" or "\r\n\r\n"), or 0 when there is none. */
export function completeEventsEnd(buf: Buffer): number {
  const n = buf.length;
  if (n >= 2 && buf[n - 1] === NEWLINE && (buf[n - 2] === NEWLINE || (buf[n - 2] === 0x0d && buf[n - 3] === NEWLINE))) return n;
  const lf = buf.lastIndexOf('\n\n');
  const crlf = buf.lastIndexOf('\n\r\n');
  return Math.max(lf === -1 ? 0 : lf + 2, crlf === -1 ? 0 : crlf + 3);
}

export interface Usage {
  promptTokens: number | null;
  completionTokens: number | null;
}

export interface UsageEvent extends Usage {
  /** Byte range of the whole event, for removing it when the client did not ask for usage. */
  start: number;
  end: number;
  /** The event carries only usage (choices: []), so removing it loses nothing the client asked for. */
  usageOnly: boolean;
}

/** Finds an event carrying a non-null `usage` object and reads its numbers; undefined when there is none. */
export function findUsageEvent(buf: Buffer): UsageEvent | undefined {
  let from = 0;
  for (;;) {
    const at = buf.indexOf(USAGE, from);
    if (at === -1) return undefined;
    from = at + USAGE.length;
    if (buf[skipSpaces(buf, from)] !== 0x7b /* { */) continue;
    const dataAt = buf.lastIndexOf(DATA, at);
    if (dataAt === -1) continue;
    const lineEnd = buf.indexOf(NEWLINE, at);
    const jsonEnd = lineEnd === -1 ? buf.length : lineEnd;
    let end = jsonEnd;
    while (end < buf.length && (buf[end] === NEWLINE || buf[end] === 0x0d)) end++;
    // Only two numbers are needed: read them from the usage object instead of parsing the whole event.
    // latin1 keeps byte offsets and is enough for ASCII keys and digits.
    const json = buf.toString('latin1', dataAt + DATA.length, jsonEnd);
    const usage = buf.toString('latin1', skipSpaces(buf, from), jsonEnd);
    return {
      promptTokens: numberAfter(usage, PROMPT_TOKENS),
      completionTokens: numberAfter(usage, COMPLETION_TOKENS),
      start: dataAt,
      end,
      usageOnly: CHOICES_EMPTY.test(json),
    };
  }
}

const PROMPT_TOKENS = /"prompt_tokens"\s*:\s*(\d+)/;
const COMPLETION_TOKENS = /"completion_tokens"\s*:\s*(\d+)/;
function numberAfter(text: string, pattern: RegExp): number | null {
  const m = pattern.exec(text);
  return m ? Number(m[1]) : null;
}

export function count(v: unknown): number | null {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null;
}

/** Usage from a whole (non-streaming) response body. */
export function usageOfBody(body: Buffer): Usage {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } };
    return { promptTokens: count(parsed.usage?.prompt_tokens), completionTokens: count(parsed.usage?.completion_tokens) };
  } catch {
    return { promptTokens: null, completionTokens: null };
  }
}
