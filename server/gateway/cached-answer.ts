import { findUsageEvent } from './sse';

/**
 * An answer as the response cache keeps it (response-cache.ts): the engine's own bytes, a completion
 * object or its SSE events (with the usage event: the gateway always asks for it), so a hit in the same
 * form is replayed byte for byte. A hit in the other form is converted: a stream is assembled into the
 * completion object a non-streaming call returns, and a completion is cut into the chunks a stream sends.
 */
export interface CachedAnswer {
  kind: 'json' | 'sse';
  body: Buffer;
  promptTokens: number | null;
  completionTokens: number | null;
}

type Json = Record<string, unknown>;
const FINISHED = new Set(['stop', 'length']);

/** The JSON payloads of an SSE body's `data:` events, and whether it ended with [DONE]. */
function events(body: Buffer): { payloads: Json[]; done: boolean } | null {
  const payloads: Json[] = [];
  let done = false;
  for (const event of body.toString('utf8').split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
      .join('\n');
    if (!data) continue;
    if (data === '[DONE]') {
      done = true;
      continue;
    }
    try {
      const parsed: unknown = JSON.parse(data);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
      payloads.push(parsed as Json);
    } catch {
      return null;
    }
  }
  return { payloads, done };
}

const choicesOf = (o: Json): Json[] => (Array.isArray(o.choices) ? (o.choices as Json[]).filter((c) => c && typeof c === 'object') : []);

/**
 * Only complete, successful answers are kept: every choice finished with `stop` or `length` (never a
 * tool call cut short, never a content filter), and a stream ended with [DONE] and no error event.
 */
export function isComplete(kind: 'json' | 'sse', body: Buffer): boolean {
  if (kind === 'json') {
    let parsed: Json;
    try {
      parsed = JSON.parse(body.toString('utf8')) as Json;
    } catch {
      return false;
    }
    if (!parsed || typeof parsed !== 'object' || 'error' in parsed) return false;
    const choices = choicesOf(parsed);
    return choices.length > 0 && choices.every((c) => FINISHED.has(String(c.finish_reason)));
  }
  const parsed = events(body);
  if (!parsed || !parsed.done) return false;
  const finish = new Map<number, unknown>();
  for (const p of parsed.payloads) {
    if ('error' in p) return false;
    for (const c of choicesOf(p)) {
      const index = Number(c.index ?? 0);
      if (!finish.has(index)) finish.set(index, null);
      if (c.finish_reason != null) finish.set(index, c.finish_reason);
    }
  }
  return finish.size > 0 && [...finish.values()].every((f) => FINISHED.has(String(f)));
}

/** The answer as a non-streaming call returns it. */
export function asJson(a: CachedAnswer, chat: boolean): Buffer {
  if (a.kind === 'json') return a.body;
  const parsed = events(a.body)!;
  const first = parsed.payloads[0] ?? {};
  const usage = parsed.payloads.find((p) => p.usage && typeof p.usage === 'object')?.usage ?? null;
  const byIndex = new Map<number, Json>();
  for (const p of parsed.payloads)
    for (const c of choicesOf(p)) {
      const index = Number(c.index ?? 0);
      let acc = byIndex.get(index);
      if (!acc) byIndex.set(index, (acc = { index, finish_reason: null, logprobs: null, text: '', content: null, reasoning: null, tools: [] as Json[] }));
      if (c.finish_reason != null) acc.finish_reason = c.finish_reason;
      mergeLogprobs(acc, c.logprobs as Json | null | undefined);
      if (!chat) {
        if (typeof c.text === 'string') acc.text += c.text;
        continue;
      }
      const delta = (c.delta ?? {}) as Json;
      if (typeof delta.content === 'string') acc.content = ((acc.content as string | null) ?? '') + delta.content;
      if (typeof delta.reasoning_content === 'string') acc.reasoning = ((acc.reasoning as string | null) ?? '') + delta.reasoning_content;
      if (Array.isArray(delta.tool_calls)) mergeToolCalls(acc.tools as Json[], delta.tool_calls as Json[]);
    }
  const choices = [...byIndex.values()]
    .sort((x, y) => (x.index as number) - (y.index as number))
    .map((acc) => {
      if (!chat) return { index: acc.index, text: acc.text, logprobs: acc.logprobs, finish_reason: acc.finish_reason };
      const tools = acc.tools as Json[];
      const message: Json = { role: 'assistant', content: acc.content };
      if (acc.reasoning !== null) message.reasoning_content = acc.reasoning;
      if (tools.length) message.tool_calls = tools.map(({ index: _index, ...call }) => call);
      return { index: acc.index, message, logprobs: acc.logprobs, finish_reason: acc.finish_reason };
    });
  const out: Json = { id: first.id, object: chat ? 'chat.completion' : 'text_completion', created: first.created, model: first.model };
  if (first.system_fingerprint !== undefined) out.system_fingerprint = first.system_fingerprint;
  out.choices = choices;
  out.usage = usage;
  return Buffer.from(JSON.stringify(out));
}

/** Streamed tool calls arrive in pieces keyed by index: the id and name once, the arguments in parts. */
function mergeToolCalls(into: Json[], parts: Json[]) {
  for (const part of parts) {
    const index = Number(part.index ?? 0);
    let call = into.find((c) => c.index === index);
    if (!call) into.push((call = { index, id: part.id, type: part.type ?? 'function', function: { name: '', arguments: '' } }));
    if (part.id) call.id = part.id;
    const fn = (part.function ?? {}) as Json;
    const target = call.function as Json;
    if (typeof fn.name === 'string') target.name = (target.name as string) + fn.name;
    if (typeof fn.arguments === 'string') target.arguments = (target.arguments as string) + fn.arguments;
  }
}

/** Chat logprobs are { content: [...] }; completion logprobs are parallel arrays: both concatenate. */
function mergeLogprobs(acc: Json, lp: Json | null | undefined) {
  if (!lp || typeof lp !== 'object') return;
  const into = (acc.logprobs ??= {}) as Json;
  for (const [k, v] of Object.entries(lp)) if (Array.isArray(v)) into[k] = [...((into[k] as unknown[]) ?? []), ...v];
}

/** The answer as a stream sends it, ending with [DONE]; the usage-only event only when the client asked for usage. */
export function asSse(a: CachedAnswer, chat: boolean, includeUsage: boolean): Buffer {
  if (a.kind === 'sse') return includeUsage ? a.body : withoutUsageEvents(a.body);
  const parsed = JSON.parse(a.body.toString('utf8')) as Json;
  const head = { id: parsed.id, object: chat ? 'chat.completion.chunk' : 'text_completion', created: parsed.created, model: parsed.model };
  const out: string[] = [];
  const send = (o: Json) => out.push(`data: ${JSON.stringify(o)}\n\n`);
  for (const c of choicesOf(parsed)) {
    if (!chat) {
      send({ ...head, choices: [{ index: c.index, text: c.text ?? '', logprobs: c.logprobs ?? null, finish_reason: c.finish_reason }] });
      continue;
    }
    const m = (c.message ?? {}) as Json;
    const delta: Json = { role: 'assistant', content: m.content ?? '' };
    if (typeof m.reasoning_content === 'string') delta.reasoning_content = m.reasoning_content;
    if (Array.isArray(m.tool_calls)) delta.tool_calls = (m.tool_calls as Json[]).map((call, index) => ({ index, ...call }));
    send({ ...head, choices: [{ index: c.index, delta, logprobs: c.logprobs ?? null, finish_reason: null }] });
    send({ ...head, choices: [{ index: c.index, delta: {}, logprobs: null, finish_reason: c.finish_reason }] });
  }
  if (includeUsage && parsed.usage) send({ ...head, choices: [], usage: parsed.usage });
  out.push('data: [DONE]\n\n');
  return Buffer.from(out.join(''));
}

/** The events without the usage-only ones, as the live path removes them for a client that did not ask. */
function withoutUsageEvents(body: Buffer): Buffer {
  const kept: Buffer[] = [];
  let rest = body;
  for (;;) {
    const found = findUsageEvent(rest);
    if (!found) break;
    if (found.usageOnly) {
      kept.push(rest.subarray(0, found.start));
      rest = rest.subarray(found.end);
    } else {
      kept.push(rest.subarray(0, found.end));
      rest = rest.subarray(found.end);
    }
  }
  kept.push(rest);
  return kept.length === 1 ? kept[0]! : Buffer.concat(kept);
}
