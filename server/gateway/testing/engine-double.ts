import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A TEST DOUBLE for an inference engine (vLLM or Enclave's llamacpp server), for the gateway's tests and
 * benchmark: it speaks OpenAI's chat and text completion protocol exactly (SSE `data:` events, a role
 * chunk, one chunk per token, a finish chunk, a usage-only chunk when `stream_options.include_usage`,
 * `data: [DONE]`), at a configurable pace, and can misbehave on purpose. The text is filler; what matters
 * is the protocol and the timing.
 */
export type EngineFailure =
  | 'none'
  /** Answers 500 with an OpenAI error body. */
  | 'status500'
  /** Accepts the request and never answers. */
  | 'hang'
  /** Sends 200 and SSE headers, then nothing. */
  | 'hang-after-headers'
  /** Sends a few tokens, then destroys the connection. */
  | 'drop-mid-stream';

export interface EngineDoubleOptions {
  firstTokenDelayMs: number;
  interTokenMs: number;
  /** Tokens per reply (fewer when the request's max_tokens is smaller). */
  tokens: number;
  failure: EngineFailure;
}

export interface EngineDouble {
  url: string;
  port: number;
  /** Requests received on the completion endpoints. */
  received: number;
  /** Streams the client (the gateway) abandoned before the end. */
  abandoned: number;
  /** Streams in progress right now. */
  active: number;
  /** The last parsed request body, to check what the gateway forwarded. */
  lastBody: Record<string, unknown> | undefined;
  set(options: Partial<EngineDoubleOptions>): void;
  close(): Promise<void>;
}

let ids = 0;

export async function startEngineDouble(options: Partial<EngineDoubleOptions> = {}, port = 0): Promise<EngineDouble> {
  const opts: EngineDoubleOptions = { firstTokenDelayMs: 0, interTokenMs: 0, tokens: 5, failure: 'none', ...options };
  const state = { received: 0, abandoned: 0, active: 0, lastBody: undefined as Record<string, unknown> | undefined };

  const server = http.createServer({ noDelay: true }, (req, res) => {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === '/health') return void res.end('ok');
    if (req.method === 'GET' && url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ object: 'list', data: [{ id: 'double', object: 'model', created: 0, owned_by: 'double' }] }));
    }
    const chat = url === '/v1/chat/completions';
    if (req.method !== 'POST' || (!chat && url !== '/v1/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error', param: null, code: null } }));
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.received++;
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ error: { message: 'bad json', type: 'invalid_request_error', param: null, code: null } }));
      }
      state.lastBody = body;
      reply(chat, body, res);
    });
  });

  function reply(chat: boolean, body: Record<string, unknown>, res: http.ServerResponse) {
    const failure = opts.failure;
    if (failure === 'hang') return;
    if (failure === 'status500') {
      res.writeHead(500, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: { message: 'engine double failed on purpose', type: 'api_error', param: null, code: null } }));
    }
    const maxTokens = typeof body.max_tokens === 'number' ? body.max_tokens : Infinity;
    const n = Math.min(opts.tokens, maxTokens);
    const promptTokens = promptLength(body);
    const id = `${chat ? 'chatcmpl' : 'cmpl'}-double-${++ids}`;
    const created = Math.floor(Date.now() / 1000);
    const model = String(body.model ?? 'double');
    if (body.stream !== true) {
      const text = Array.from({ length: n }, (_, i) => `tok${i} `).join('');
      const usage = { prompt_tokens: promptTokens, completion_tokens: n, total_tokens: promptTokens + n };
      const choice = chat
        ? { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: 'length' }
        : { index: 0, text, logprobs: null, finish_reason: 'length' };
      const out = { id, object: chat ? 'chat.completion' : 'text_completion', created, model, choices: [choice], usage };
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(out));
      }, opts.firstTokenDelayMs + opts.interTokenMs * Math.max(0, n - 1));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    if (failure === 'hang-after-headers') return;
    const head = `data: {"id":"${id}","object":"${chat ? 'chat.completion.chunk' : 'text_completion'}","created":${created},"model":${JSON.stringify(model)},"choices":[`;
    const chunk = (delta: string, finish: string | null) =>
      chat
        ? `${head}{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish ? `"${finish}"` : 'null'}}]}\n\n`
        : `${head}{"index":0,"text":${delta},"logprobs":null,"finish_reason":${finish ? `"${finish}"` : 'null'}}]}\n\n`;
    const wantUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    state.active++;
    let finished = false;
    const end = (abandoned: boolean) => {
      if (finished) return;
      finished = true;
      state.active--;
      if (abandoned) state.abandoned++;
      clearTimeout(timer);
    };
    res.on('close', () => end(!res.writableFinished));
    const next = () => {
      if (finished) return;
      if (sent === 0 && chat) res.write(chunk('{"role":"assistant","content":""}', null));
      if (failure === 'drop-mid-stream' && sent === Math.min(2, n)) {
        end(false);
        return void res.socket?.destroy();
      }
      if (sent < n) {
        res.write(chunk(chat ? `{"content":"tok${sent} "}` : `"tok${sent} "`, null));
        sent++;
        if (sent < n) return void (timer = setTimeout(next, opts.interTokenMs));
      }
      res.write(chunk(chat ? '{}' : '""', 'length'));
      if (wantUsage)
        res.write(`${head}],"usage":{"prompt_tokens":${promptTokens},"completion_tokens":${n},"total_tokens":${promptTokens + n}}}\n\n`);
      res.end('data: [DONE]\n\n');
      end(false);
    };
    timer = setTimeout(next, opts.firstTokenDelayMs);
  }

  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actualPort = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actualPort}`,
    port: actualPort,
    get received() {
      return state.received;
    },
    get abandoned() {
      return state.abandoned;
    },
    get active() {
      return state.active;
    },
    get lastBody() {
      return state.lastBody;
    },
    set(options) {
      Object.assign(opts, options);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Whitespace-separated words of the prompt: a stand-in tokenizer, enough for usage numbers to be checkable. */
function promptLength(body: Record<string, unknown>): number {
  const text = Array.isArray(body.messages)
    ? body.messages.map((m: { content?: unknown }) => (typeof m.content === 'string' ? m.content : '')).join(' ')
    : Array.isArray(body.prompt)
      ? body.prompt.join(' ')
      : String(body.prompt ?? '');
  return text.split(/\s+/).filter(Boolean).length;
}
