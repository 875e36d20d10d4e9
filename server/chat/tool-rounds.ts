import type { Db } from '../db/client';
import { openCompletionStream, readAnswer, type CompletionMessage, type StreamOutcome, type Usage } from './gateway-client';
import { openText, sealText } from './sealed-text';

/**
 * The plugins a turn may use (server/tools builds them for the user's groups; handed in through the
 * chat's deps, since the chat sits below the tools in the layers).
 */
export interface ChatTools {
  definitions: unknown[];
  call(call: { id: string; name: string; arguments: string }, ctx: { conversationId: string; signal?: AbortSignal }): Promise<{ status: string; durationMs: number; result: string; truncated: boolean }>;
}

/** Tool rounds per turn: a model that keeps calling tools is answered without them after this many. */
export const MAX_TOOL_ROUNDS = 4;
/** Characters of a call's arguments and result kept on the reply for the chat to show (the model gets the whole result). */
const SHOWN_CHARS = 4000;

/** One call as the reply records it. */
export interface ToolCallRecord {
  callId: string;
  tool: string;
  arguments: string;
  status: string;
  durationMs: number;
  result: string;
  truncated: boolean;
}

const addUsage = (a: Usage | null, b: Usage | null): Usage | null =>
  a && b ? { prompt_tokens: a.prompt_tokens + b.prompt_tokens, completion_tokens: a.completion_tokens + b.completion_tokens, total_tokens: a.total_tokens + b.total_tokens } : (a ?? b);

/**
 * While the model answers with tool calls: calls each (tools.call signs, limits, audits), adds the
 * assistant's calls and a `tool` message per result to the prompt, and asks again, streaming the text
 * as it comes. The last allowed round goes out without `tools`, so the model must answer in words.
 */
export async function runToolRounds(opts: {
  deps: { masterKey: Buffer; gatewayUrl: string };
  userId: string;
  tools: ChatTools;
  request: { model: string; messages: CompletionMessage[]; maxTokens: number; temperature?: number; topP?: number };
  classification: { level: number; conversationId: string };
  first: StreamOutcome;
  signal: AbortSignal;
  startedAt: number;
  onText: (text: string) => void;
  onTool: (record: ToolCallRecord) => void;
}): Promise<{ outcome: StreamOutcome; calls: ToolCallRecord[] }> {
  const calls: ToolCallRecord[] = [];
  const messages = [...opts.request.messages];
  let outcome = opts.first;
  let usage = outcome.usage;
  for (let round = 1; outcome.toolCalls?.length && !outcome.error && !outcome.stopped && round <= MAX_TOOL_ROUNDS; round++) {
    const asked = outcome.toolCalls;
    messages.push({ role: 'assistant', content: null, tool_calls: asked.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) });
    for (const call of asked) {
      const done = await opts.tools.call(call, { conversationId: opts.classification.conversationId, signal: opts.signal });
      const record = { callId: call.id, tool: call.name, arguments: call.arguments.slice(0, SHOWN_CHARS), status: done.status, durationMs: done.durationMs, result: done.result.slice(0, SHOWN_CHARS), truncated: done.truncated };
      calls.push(record);
      opts.onTool(record);
      messages.push({ role: 'tool', tool_call_id: call.id, content: done.result });
    }
    try {
      const stream = await openCompletionStream({
        ...opts.deps,
        userId: opts.userId,
        signal: opts.signal,
        classification: opts.classification,
        request: { ...opts.request, messages, tools: round < MAX_TOOL_ROUNDS ? opts.tools.definitions : undefined },
      });
      outcome = await readAnswer(stream, { signal: opts.signal, startedAt: opts.startedAt, onText: opts.onText });
    } catch (e) {
      if (opts.signal.aborted) outcome = { finishReason: 'stop_requested', usage: null, ttftMs: outcome.ttftMs, stopped: true };
      else outcome = { finishReason: null, usage: null, ttftMs: outcome.ttftMs, stopped: false, error: e instanceof Error ? e.message : 'The model could not be asked again after the tool call' };
    }
    usage = addUsage(usage, outcome.usage);
  }
  return { outcome: { ...outcome, usage, ttftMs: opts.first.ttftMs ?? outcome.ttftMs }, calls };
}

/**
 * Tool calls on the reply's metadata: the tool, status and duration in clear (the chat and the audit
 * speak of them), the arguments and result sealed under the owner's key like the reply's own text.
 */
export async function sealToolCalls(db: Db, masterKey: Buffer, ownerId: string, calls: ToolCallRecord[]) {
  return Promise.all(
    calls.map(async ({ arguments: args, result, ...plain }) => ({ ...plain, sealed: (await sealText(db, masterKey, JSON.stringify({ arguments: args, result }), ownerId)).toString('base64') })),
  );
}

/** The reply's metadata with its tool calls opened (a call whose key is gone shows without its content). */
export async function openToolCalls(db: Db, masterKey: Buffer, metadata: Record<string, unknown>): Promise<Record<string, unknown>> {
  if (!Array.isArray(metadata.toolCalls)) return metadata;
  const toolCalls = await Promise.all(
    (metadata.toolCalls as { sealed?: string }[]).map(async ({ sealed, ...plain }) => {
      if (typeof sealed !== 'string') return plain;
      const opened = await openText(db, masterKey, Buffer.from(sealed, 'base64')).then((t) => JSON.parse(t) as { arguments: string; result: string }, () => ({ arguments: '', result: '' }));
      return { ...plain, ...opened };
    }),
  );
  return { ...metadata, toolCalls };
}
