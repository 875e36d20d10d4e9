import { internalToken } from '../security/master-key';
import { codeForStatus, DomainError } from '../core/errors';
import { EventStreamError, serverSentEvents } from '../core/sse';

/** A tool call the model asked for (OpenAI's shape), and the turn's messages that carry tool calls and their results. */
export interface ToolCallRequest {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}
export type CompletionMessage =
  | { role: 'system' | 'user' | 'assistant'; content: string; images?: string[] }
  | { role: 'assistant'; content: string | null; tool_calls: ToolCallRequest[] }
  | { role: 'tool'; tool_call_id: string; content: string };

/** A message as the gateway takes it: one with images becomes text and image_url parts (OpenAI's vision format). */
function toWire(m: CompletionMessage) {
  if (!('images' in m) || !m.images?.length) return m;
  const { images, ...rest } = m;
  return { ...rest, content: [{ type: 'text', text: m.content }, ...images.map((url) => ({ type: 'image_url', image_url: { url } }))] };
}

export interface CompletionRequest {
  model: string;
  messages: CompletionMessage[];
  maxTokens: number;
  temperature?: number;
  topP?: number;
  /** OpenAI `tools` (the plugins granted to the user); left out when there are none. */
  tools?: unknown[];
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export type StreamEvent =
  | { type: 'delta'; text: string }
  | { type: 'finish'; reason: string }
  | { type: 'usage'; usage: Usage }
  /** A piece of a tool call: the first names it, the rest add to its arguments (joined by `index`). */
  | { type: 'tool_call'; index: number; id?: string; name?: string; arguments?: string };

/** Which experiment variant answered, from the gateway's x-enclave-variant headers; absent for a plain deployment. */
export interface ServedBy {
  variant: string;
  variantId: string;
}

/** The gateway answered with an error after the stream began (an OpenAI error chunk). */
export class UpstreamStreamError extends Error {}

async function errorFrom(res: Response): Promise<DomainError> {
  let message = `The gateway answered ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { message?: unknown } };
    if (typeof body?.error?.message === 'string') message = body.error.message;
  } catch {
    // Not JSON: keep the generic message.
  }
  return new DomainError(codeForStatus(res.status), message, res.status);
}

function gatewayHeaders(masterKey: Buffer, userId: string, classification?: { level: number; conversationId: string }): Record<string, string> {
  return {
    'content-type': 'application/json',
    authorization: `Bearer ${internalToken(masterKey)}`,
    'x-enclave-user-id': userId,
    ...(classification ? { 'x-enclave-classification': String(classification.level), 'x-enclave-conversation-id': classification.conversationId } : {}),
  };
}

/**
 * One whole (non-streamed) chat completion as the signed-in user, for the chat's own work on a
 * conversation (its summary): keyed, quota-charged, logged and classification-checked like a turn.
 */
export async function completeOnce(opts: {
  gatewayUrl: string;
  masterKey: Buffer;
  userId: string;
  request: CompletionRequest;
  signal: AbortSignal;
  classification?: { level: number; conversationId: string };
}): Promise<{ text: string; usage: Usage | null }> {
  let res: Response;
  try {
    res = await fetch(`${opts.gatewayUrl.replace(/\/$/, '')}/v1/chat/completions`, {
      method: 'POST',
      signal: opts.signal,
      headers: gatewayHeaders(opts.masterKey, opts.userId, opts.classification),
      body: JSON.stringify({
        model: opts.request.model,
        messages: opts.request.messages,
        max_tokens: opts.request.maxTokens,
        ...(opts.request.temperature === undefined ? {} : { temperature: opts.request.temperature }),
      }),
    });
  } catch (e) {
    if (opts.signal.aborted) throw e;
    throw new DomainError('BAD_GATEWAY', 'The gateway could not be reached');
  }
  if (!res.ok) throw await errorFrom(res);
  const body = (await res.json()) as { choices?: { message?: { content?: string | null } }[]; usage?: Usage | null };
  return { text: body.choices?.[0]?.message?.content ?? '', usage: body.usage ?? null };
}

/**
 * Starts a streaming chat completion on the gateway as the signed-in user (the internal token plus
 * x-enclave-user-id: the gateway itself checks that user's access to the model). Resolves once the
 * gateway has accepted the request, so nothing is saved for a request it refuses; the returned
 * iterator then yields the stream's pieces as they arrive.
 */
export async function openCompletionStream(opts: {
  gatewayUrl: string;
  masterKey: Buffer;
  userId: string;
  request: CompletionRequest;
  signal: AbortSignal;
  /** The conversation's declared level (a rank 0-3) and id: the gateway holds the turn to it and names it in its audit. */
  classification?: { level: number; conversationId: string };
}): Promise<AsyncGenerator<StreamEvent> & { servedBy: ServedBy | null }> {
  const { request } = opts;
  let res: Response;
  try {
    res = await fetch(`${opts.gatewayUrl.replace(/\/$/, '')}/v1/chat/completions`, {
      method: 'POST',
      signal: opts.signal,
      headers: gatewayHeaders(opts.masterKey, opts.userId, opts.classification),
      body: JSON.stringify({
        model: request.model,
        messages: request.messages.map(toWire),
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: request.maxTokens,
        ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
        ...(request.topP === undefined ? {} : { top_p: request.topP }),
        ...(request.tools?.length ? { tools: request.tools } : {}),
      }),
    });
  } catch (e) {
    if (opts.signal.aborted) throw e;
    throw new DomainError('BAD_GATEWAY', 'The gateway could not be reached');
  }
  if (!res.ok || !res.body) throw await errorFrom(res);
  const variant = res.headers.get('x-enclave-variant');
  const variantId = res.headers.get('x-enclave-variant-id');
  return Object.assign(readEvents(res.body), { servedBy: variant && variantId ? { variant, variantId } : null });
}

async function* readEvents(body: ReadableStream<Uint8Array<ArrayBuffer>>): AsyncGenerator<StreamEvent> {
  try {
    for await (const event of serverSentEvents(body)) {
      if (event.data.trim() === '[DONE]') return;
      yield* eventsOf(event.data);
    }
  } catch (e) {
    throw e instanceof EventStreamError ? new UpstreamStreamError('The gateway sent a malformed stream') : e;
  }
}

function* eventsOf(data: string): Generator<StreamEvent> {
  let parsed: {
    error?: { message?: string };
    choices?: { delta?: { content?: string | null; tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[] }; finish_reason?: string | null }[];
    usage?: Usage | null;
  };
  try {
    parsed = JSON.parse(data);
  } catch {
    throw new UpstreamStreamError('The gateway sent a malformed stream chunk');
  }
  if (parsed.error) throw new UpstreamStreamError(parsed.error.message ?? 'The model stream failed');
  for (const choice of parsed.choices ?? []) {
    if (choice.delta?.content) yield { type: 'delta', text: choice.delta.content };
    for (const [i, call] of (choice.delta?.tool_calls ?? []).entries())
      yield { type: 'tool_call', index: call.index ?? i, id: call.id, name: call.function?.name, arguments: call.function?.arguments };
    if (choice.finish_reason) yield { type: 'finish', reason: choice.finish_reason };
  }
  if (parsed.usage) yield { type: 'usage', usage: parsed.usage };
}

/** What a streamed answer came to; `error` is the gateway's own message for an error chunk, else a generic one. */
export interface StreamOutcome {
  finishReason: string | null;
  usage: Usage | null;
  ttftMs: number | null;
  stopped: boolean;
  error?: string;
  /** The tool calls the model asked for, assembled from their pieces, in order. */
  toolCalls?: { id: string; name: string; arguments: string }[];
}

/** Reads an answer to its end (or until `signal` stops it), handing each piece of text to `onText` as it arrives. */
export async function readAnswer(stream: AsyncGenerator<StreamEvent>, opts: { signal: AbortSignal; startedAt: number; onText: (text: string) => void }): Promise<StreamOutcome> {
  const outcome: StreamOutcome = { finishReason: null, usage: null, ttftMs: null, stopped: false };
  try {
    for await (const event of stream) {
      if (event.type === 'delta') {
        outcome.ttftMs ??= Math.round((performance.now() - opts.startedAt) * 10) / 10;
        opts.onText(event.text);
      } else if (event.type === 'finish') outcome.finishReason = event.reason;
      else if (event.type === 'usage') outcome.usage = event.usage;
      else {
        const calls = (outcome.toolCalls ??= []);
        const call = (calls[event.index] ??= { id: '', name: '', arguments: '' });
        if (event.id) call.id = event.id;
        if (event.name) call.name += event.name;
        if (event.arguments) call.arguments += event.arguments;
      }
    }
    if (opts.signal.aborted) outcome.stopped = true;
  } catch (e) {
    if (opts.signal.aborted) outcome.stopped = true;
    else outcome.error = e instanceof UpstreamStreamError ? e.message : 'The stream from the model was interrupted';
  }
  if (outcome.stopped) outcome.finishReason ??= 'stop_requested';
  // A model that leaves out an id still gets its result matched to the call.
  if (outcome.toolCalls) outcome.toolCalls = outcome.toolCalls.filter(Boolean).map((c, i) => ({ ...c, id: c.id || `call_${i}` }));
  return outcome;
}
