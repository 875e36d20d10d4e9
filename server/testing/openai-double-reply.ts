import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import { monotonicMs } from '../evaluation/loadtest/clock';

/** How the double answers one request: its pace, its text and what goes wrong on purpose. */
export interface ReplyScript {
  /** Tokens per reply, fewer when the request's max_tokens is smaller. */
  tokens: number;
  /** The text of token `i` (filler: what matters is the protocol and the timing). */
  token: (i: number) => string;
  /** From the request's last byte to the first token (and the role chunk, sent with it as vLLM does). */
  firstTokenMs: number;
  /** Between tokens. Each token is due at a fixed offset from the request, so a late timer delays that token only. */
  interTokenMs: number;
  finishReason: 'length' | 'stop';
  failure: Failure | null;
  /** The model's context in tokens (prompt words + max_tokens): past it, vLLM's 400 for a prompt that does not fit. Unset: no limit. */
  contextTokens?: number;
}

export type Failure =
  /** An OpenAI error object with this status instead of a reply (an engine's 500, a gateway's 404 or 503). */
  | { status: number; message: string; type?: string }
  /** Accepts the request and never answers. */
  | 'hang'
  /** Sends 200 and the SSE headers, then nothing. */
  | 'hang-after-headers'
  /** Streams `afterTokens` tokens, then destroys the connection (a crashed engine). */
  | { dropAfterTokens: number }
  /** Streams `afterTokens` tokens, then ends the stream with an OpenAI error event (a gateway whose engine went away). */
  | { errorAfterTokens: number; message: string };

/** What the double counts across requests (vLLM's /metrics reads them too). */
export interface ReplyCounters {
  /** Replies in progress now. */
  active: number;
  /** Streams the client closed before the end. */
  abandoned: number;
  promptTokens: number;
  generationTokens: number;
}

export const DEFAULT_SCRIPT: ReplyScript = {
  tokens: 5,
  token: (i) => `tok${i} `,
  firstTokenMs: 0,
  interTokenMs: 0,
  finishReason: 'length',
  failure: null,
};

let ids = 0;

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: http.ServerResponse, status: number, message: string, type: string): void {
  sendJson(res, status, { error: { message, type, param: null, code: status } });
}

/** Whitespace-separated words of the prompt, whatever shape the request has: a stand-in tokenizer that makes usage checkable. */
export function promptLength(body: Record<string, unknown>): number {
  const text = Array.isArray(body.messages)
    ? body.messages.map((m: { content?: unknown } | null) => (typeof m?.content === 'string' ? m.content : '')).join(' ')
    : Array.isArray(body.prompt)
      ? body.prompt.join(' ')
      : String(body.prompt ?? '');
  return text.split(/\s+/).filter(Boolean).length;
}

/**
 * Answers one completion request as an OpenAI-compatible engine does: a JSON completion, or SSE `data:`
 * events (a role chunk with the first token for chat, one chunk per token, a finish chunk, a usage-only
 * chunk when `stream_options.include_usage`, `data: [DONE]`). Each token's write is stamped on the
 * shared monotonic clock into `stamps`, so a client's TTFT and ITL can be checked against what was sent.
 */
export function reply(
  res: http.ServerResponse,
  chat: boolean,
  body: Record<string, unknown>,
  script: ReplyScript,
  counters: ReplyCounters,
  stamps: number[],
): void {
  const { failure } = script;
  if (failure === 'hang') return;
  if (typeof failure === 'object' && failure && 'status' in failure) return sendError(res, failure.status, failure.message, failure.type ?? 'api_error');
  const n = Math.min(script.tokens, typeof body.max_tokens === 'number' ? body.max_tokens : Infinity);
  const promptTokens = promptLength(body);
  if (script.contextTokens !== undefined && promptTokens + n > script.contextTokens) {
    const message = `This model's maximum context length is ${script.contextTokens} tokens. However, you requested ${promptTokens + n} tokens (${promptTokens} in the messages, ${n} in the completion). Please reduce the length of the messages or completion.`;
    return sendError(res, 400, message, 'BadRequestError');
  }
  const usage = { prompt_tokens: promptTokens, completion_tokens: n, total_tokens: promptTokens + n };
  const id = `${chat ? 'chatcmpl' : 'cmpl'}-double-${++ids}`;
  const created = Math.floor(Date.now() / 1000);
  const model = String(body.model ?? 'double');
  const dropAfter = typeof failure === 'object' && failure && 'dropAfterTokens' in failure ? failure.dropAfterTokens : Infinity;
  const errorAfter = typeof failure === 'object' && failure && 'errorAfterTokens' in failure ? failure : null;

  counters.active++;
  counters.promptTokens += promptTokens;
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  const end = (outcome: 'done' | 'failed' | 'abandoned') => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    counters.active--;
    if (outcome === 'abandoned') counters.abandoned++;
    if (outcome === 'done') counters.generationTokens += n;
  };
  res.on('close', () => end(res.writableFinished ? 'done' : 'abandoned'));

  if (body.stream !== true) {
    const text = Array.from({ length: n }, (_, i) => script.token(i)).join('');
    const choice = chat
      ? { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: script.finishReason }
      : { index: 0, text, logprobs: null, finish_reason: script.finishReason };
    timer = setTimeout(() => {
      if (dropAfter !== Infinity) return void (end('failed'), res.socket?.destroy());
      sendJson(res, 200, { id, object: chat ? 'chat.completion' : 'text_completion', created, model, choices: [choice], usage });
    }, script.firstTokenMs + script.interTokenMs * Math.max(0, n - 1));
    return;
  }

  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.flushHeaders();
  if (failure === 'hang-after-headers') return;
  const head = `data: {"id":"${id}","object":"${chat ? 'chat.completion.chunk' : 'text_completion'}","created":${created},"model":${JSON.stringify(model)},"choices":[`;
  const chunk = (text: string | null, finish: string | null) => {
    const finishText = finish ? `"${finish}"` : 'null';
    if (!chat) return `${head}{"index":0,"text":${JSON.stringify(text ?? '')},"logprobs":null,"finish_reason":${finishText}}]}\n\n`;
    const delta = text === null ? '{}' : `{"content":${JSON.stringify(text)}}`;
    return `${head}{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finishText}}]}\n\n`;
  };
  const role = chat ? `${head}{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n` : '';
  const wantUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  const arrived = performance.now();
  let sent = 0;
  const next = () => {
    if (finished || res.destroyed) return;
    if (sent === Math.min(dropAfter, n) && dropAfter !== Infinity) return void (end('failed'), res.socket?.destroy());
    if (errorAfter && sent === Math.min(errorAfter.errorAfterTokens, n)) {
      end('failed');
      return void res.end(`data: ${JSON.stringify({ error: { message: errorAfter.message, type: 'server_error' } })}\n\n`);
    }
    if (sent < n) {
      // Stamped just before the write: a client can then never look earlier than the truth.
      stamps.push(monotonicMs());
      res.write(sent === 0 ? role + chunk(script.token(0), null) : chunk(script.token(sent), null));
      sent++;
      const due = arrived + script.firstTokenMs + sent * script.interTokenMs;
      if (sent < n || dropAfter !== Infinity || errorAfter) return void (timer = setTimeout(next, Math.max(0, due - performance.now())));
    } else if (sent === 0) res.write(role);
    res.write(chunk(null, script.finishReason));
    if (wantUsage) res.write(`${head}],"usage":${JSON.stringify(usage)}}\n\n`);
    res.end('data: [DONE]\n\n');
  };
  timer = setTimeout(next, script.firstTokenMs);
}
