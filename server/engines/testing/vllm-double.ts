import http from 'node:http';

/**
 * A TEST DOUBLE for vLLM's OpenAI-compatible server (vLLM needs a GPU; this machine has none). It speaks
 * vLLM's HTTP surface: GET /health (200, empty), GET /v1/models (the served name, LoRA adapters as
 * children), GET /metrics (vLLM's metric names), POST /v1/chat/completions and /v1/completions (OpenAI's
 * JSON and SSE formats, usage on request), and `--api-key` (401 {"error":"Unauthorized"} without it).
 * The text is filler: what matters is the protocol. Also the "upstream" double of the gateway's tests.
 */
export interface VllmDoubleOptions {
  servedName: string;
  /** The model path or id vLLM was started with (`root` in /v1/models). */
  modelPath: string;
  loraModules?: { name: string; path: string }[];
  /** As `vllm serve --api-key`: every /v1 request must carry `Authorization: Bearer <key>`. */
  apiKey?: string;
  maxModelLen?: number;
  tokensPerReply?: number;
  interTokenMs?: number;
  /** Requests are held unanswered until this resolves, as vLLM binds its port before loading weights. */
  loaded?: Promise<void>;
}

export interface VllmDoubleState {
  received: number;
  running: number;
  promptTokens: number;
  generationTokens: number;
  lastBody: Record<string, unknown> | undefined;
  /** The Authorization header of the last completion request (POST), whatever its answer. */
  lastAuthorization: string | undefined;
}

let ids = 0;

export function createVllmDoubleServer(opts: VllmDoubleOptions): { server: http.Server; state: VllmDoubleState } {
  const state: VllmDoubleState = { received: 0, running: 0, promptTokens: 0, generationTokens: 0, lastBody: undefined, lastAuthorization: undefined };
  const created = Math.floor(Date.now() / 1000);
  const names = new Set([opts.servedName, ...(opts.loraModules ?? []).map((l) => l.name)]);

  const server = http.createServer((req, res) => {
    if (opts.loaded) void opts.loaded.then(() => handle(req, res));
    else handle(req, res);
  });

  function json(res: http.ServerResponse, status: number, body: unknown) {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/health') return void res.writeHead(200, { 'content-length': 0 }).end();
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      return void res.end(metricsText());
    }
    if (path.startsWith('/v1')) {
      // Completions only: a GET /v1/models from some other prober (a test file in parallel whose old
      // upstream port this double now holds) must not overwrite what the request under test sent.
      if (req.method === 'POST') state.lastAuthorization = req.headers.authorization;
      if (opts.apiKey && req.headers.authorization !== `Bearer ${opts.apiKey}`) return json(res, 401, { error: 'Unauthorized' });
    }
    if (req.method === 'GET' && path === '/v1/models') return json(res, 200, modelList());
    const chat = path === '/v1/chat/completions';
    if (req.method !== 'POST' || (!chat && path !== '/v1/completions')) return json(res, 404, { detail: 'Not Found' });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.received++;
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return json(res, 400, { object: 'error', message: 'Invalid JSON body', type: 'BadRequestError', param: null, code: 400 });
      }
      state.lastBody = body;
      if (!names.has(String(body.model)))
        return json(res, 404, { object: 'error', message: `The model \`${String(body.model)}\` does not exist.`, type: 'NotFoundError', param: null, code: 404 });
      complete(chat, body, res);
    });
  }

  function modelList() {
    const base = { object: 'model', created, owned_by: 'vllm', max_model_len: opts.maxModelLen ?? 4096 };
    return {
      object: 'list',
      data: [
        { id: opts.servedName, root: opts.modelPath, parent: null, ...base },
        ...(opts.loraModules ?? []).map((l) => ({ id: l.name, root: l.path, parent: opts.servedName, ...base })),
      ],
    };
  }

  function metricsText(): string {
    const labels = `{engine="0",model_name="${opts.servedName}"}`;
    const gauge = (name: string, help: string, value: number) => `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name}${labels} ${value.toFixed(1)}\n`;
    const counter = (name: string, help: string, value: number) => `# HELP ${name} ${help}\n# TYPE ${name} counter\n${name}${labels} ${value.toFixed(1)}\n`;
    return (
      gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', state.running) +
      gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', 0) +
      gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', state.running ? 0.1 * state.running : 0) +
      counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.', state.promptTokens) +
      counter('vllm:generation_tokens_total', 'Number of generation tokens processed.', state.generationTokens)
    );
  }

  function complete(chat: boolean, body: Record<string, unknown>, res: http.ServerResponse) {
    const n = Math.min(opts.tokensPerReply ?? 5, typeof body.max_tokens === 'number' ? body.max_tokens : Infinity);
    const promptTokens = promptLength(body);
    const id = `${chat ? 'chatcmpl' : 'cmpl'}-double-${++ids}`;
    const model = String(body.model);
    const usage = { prompt_tokens: promptTokens, completion_tokens: n, total_tokens: promptTokens + n };
    const tokens = Array.from({ length: n }, (_, i) => `tok${i} `);
    state.running++;
    state.promptTokens += promptTokens;
    const done = () => {
      state.running--;
      state.generationTokens += n;
    };
    if (body.stream !== true) {
      const choice = chat
        ? { index: 0, message: { role: 'assistant', content: tokens.join('') }, logprobs: null, finish_reason: 'length' }
        : { index: 0, text: tokens.join(''), logprobs: null, finish_reason: 'length' };
      setTimeout(() => {
        done();
        json(res, 200, { id, object: chat ? 'chat.completion' : 'text_completion', created, model, choices: [choice], usage });
      }, (opts.interTokenMs ?? 0) * n);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    const object = chat ? 'chat.completion.chunk' : 'text_completion';
    const event = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object, created, model, choices, ...extra })}\n\n`;
    const choice = (text: string | null, finish: string | null) =>
      chat
        ? { index: 0, delta: text === null ? {} : { content: text }, logprobs: null, finish_reason: finish }
        : { index: 0, text: text ?? '', logprobs: null, finish_reason: finish };
    if (chat) res.write(event([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));
    let i = 0;
    const next = () => {
      if (res.destroyed) return done();
      if (i < n) {
        res.write(event([choice(tokens[i++]!, null)]));
        return void setTimeout(next, opts.interTokenMs ?? 0);
      }
      res.write(event([choice(null, 'length')]));
      if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) res.write(event([], { usage }));
      res.end('data: [DONE]\n\n');
      done();
    };
    next();
  }

  return { server, state };
}

/** Whitespace-separated words of the prompt: a stand-in tokenizer, enough for usage numbers to be checkable. */
function promptLength(body: Record<string, unknown>): number {
  const text = Array.isArray(body.messages)
    ? body.messages.map((m: { content?: unknown }) => (typeof m.content === 'string' ? m.content : '')).join(' ')
    : String(body.prompt ?? '');
  return text.split(/\s+/).filter(Boolean).length;
}
