import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hopMarker, HOP_HEADER } from '../gateway/hop';
import { DEFAULT_SCRIPT, reply, sendError, sendJson, type ReplyCounters, type ReplyScript } from './openai-double-reply';
import { makeWav } from './media-fixtures';
import { bearerMatches, isGuarded, metricsText, modelList, type ServedModels } from './openai-double-vllm';

export type { Failure, ReplyScript } from './openai-double-reply';

/**
 * THE TEST DOUBLE for anything that speaks OpenAI's completion protocol: an engine (vLLM needs a GPU,
 * this machine has none; the built-in engine is too slow to pace), an upstream API, or the gateway as
 * the web role calls it. It serves vLLM's HTTP surface: GET /health (200, empty), GET /v1/models, GET
 * /metrics (vLLM's names), POST /v1/chat/completions and /v1/completions (JSON, or SSE with usage on
 * request), and `apiKey` as vLLM's --api-key/VLLM_API_KEY applies it: every path under /v1 answers 401
 * {"error":"Unauthorized"} without `Authorization: Bearer <key>` (scheme in any case). Its pace, text
 * and failures are scripted (for every request, or per model), and it records what it was sent.
 * It also answers /v1/embeddings, /v1/audio/transcriptions (multipart, as a Whisper model) and
 * /v1/audio/speech (WAV bytes), and records the images and audio files it received (`media`).
 */
export interface OpenAIDoubleOptions extends Partial<ReplyScript> {
  /** Scripts for particular models (by the request's `model`), over the defaults. */
  models?: Record<string, Partial<ReplyScript>>;
  /** As vLLM: only this name (and its LoRA adapters) is served, any other gets 404. Unset: every name. */
  served?: ServedModels;
  /** As `vllm serve --api-key`: every /v1 request must carry `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Requests are held unanswered until this resolves, as vLLM binds its port before loading weights. */
  loaded?: Promise<void>;
  /** What /v1/audio/transcriptions answers; default: a sentence naming the audio's size and its language. */
  transcript?: (audio: { bytes: number; language: string | null }) => string;
}

/** An image or audio file the double received: its type, size and digest (the test compares them with what it sent). */
export interface ReceivedMedia {
  mediaType: string;
  bytes: number;
  sha256: string;
}

/** A completion request as the double received it (whatever it answered, a 401 included). */
export interface RecordedRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The parsed body; null when it was not JSON. */
  body: Record<string, unknown> | null;
  /** When each token was written, on the shared monotonic clock (evaluation/loadtest/clock.ts). */
  tokenStamps: number[];
  /** Chat: the data: URL images of its image_url parts, in order. Transcriptions: the uploaded file. */
  media?: ReceivedMedia[];
}

export interface OpenAIDouble extends Readonly<ReplyCounters> {
  url: string;
  port: number;
  server: http.Server;
  /** Completion requests, oldest first. */
  readonly requests: RecordedRequest[];
  /** Completion requests that passed the key check. */
  readonly received: number;
  /** Changes the default script for the requests that follow. */
  set(script: Partial<ReplyScript>): void;
  /** Forgets the recorded requests. */
  clear(): void;
  close(): Promise<void>;
}

const COMPLETIONS: Record<string, boolean | 'embeddings' | 'transcriptions' | 'speech'> = {
  '/v1/chat/completions': true,
  '/v1/completions': false,
  '/v1/embeddings': 'embeddings',
  '/v1/audio/transcriptions': 'transcriptions',
  '/v1/audio/speech': 'speech',
};

/** The double's server, not yet listening (a caller that plays vLLM's start-up binds it when it chooses). */
export function createOpenAIDouble(options: OpenAIDoubleOptions = {}): Omit<OpenAIDouble, 'url' | 'port' | 'close'> {
  const { models = {}, served, apiKey, loaded, transcript, ...defaults } = options;
  const script: ReplyScript = { ...DEFAULT_SCRIPT, ...defaults };
  const counters: ReplyCounters = { active: 0, abandoned: 0, promptTokens: 0, generationTokens: 0 };
  let requests: RecordedRequest[] = [];
  let received = 0;
  const created = Math.floor(Date.now() / 1000);
  const names = served && new Set([served.servedName, ...(served.loraModules ?? []).map((l) => l.name)]);

  const server = http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
    if (loaded) void loaded.then(() => handle(req, res));
    else handle(req, res);
  });
  server.maxConnections = 100_000;

  function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const path = (req.url ?? '/').split('?')[0]!;
    const chat = req.method === 'POST' ? COMPLETIONS[path] : undefined;
    if (chat === undefined) return other(req, res, path);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    if (chat === 'transcriptions') return void req.on('end', () => void transcribe(req, res, Buffer.concat(chunks)));
    req.on('end', () => {
      let body: Record<string, unknown> | null = null;
      try {
        const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
      } catch {
        // recorded as null, answered 400 below
      }
      const record: RecordedRequest = { path, headers: req.headers, body, tokenStamps: [] };
      if (chat === true && body) record.media = imagesOf(body);
      requests.push(record);
      if (apiKey && !bearerMatches(req.headers.authorization, apiKey)) return sendJson(res, 401, { error: 'Unauthorized' });
      received++;
      if (!body) return sendError(res, 400, 'Invalid JSON body', 'BadRequestError');
      if (names && !names.has(String(body.model))) return sendError(res, 404, `The model \`${String(body.model)}\` does not exist.`, 'NotFoundError');
      const model = String(body.model);
      if (chat === 'embeddings') return sendJson(res, 200, embeddingsReply(body, created));
      if (chat === 'speech') return speechReply(res, body);
      reply(res, chat, body, { ...script, ...(Object.hasOwn(models, model) ? models[model] : {}) }, counters, record.tokenStamps);
    });
  }

  /** vLLM's /v1/audio/transcriptions (a Whisper model): a multipart form in, the text out (json, text or verbose_json). */
  async function transcribe(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer) {
    let form: FormData | null = null;
    try {
      form = await new Response(new Uint8Array(raw.buffer as ArrayBuffer, raw.byteOffset, raw.length), { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
    } catch {
      // recorded with no body, answered 400 below
    }
    const fields: Record<string, unknown> = {};
    const media: ReceivedMedia[] = [];
    for (const [k, v] of form ?? []) {
      if (typeof v === 'string') fields[k] = v;
      else {
        const bytes = Buffer.from(await v.arrayBuffer());
        media.push({ mediaType: v.type, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
        fields[k] = { filename: v.name, bytes: bytes.length };
      }
    }
    requests.push({ path: '/v1/audio/transcriptions', headers: req.headers, body: form ? fields : null, tokenStamps: [], media });
    if (apiKey && !bearerMatches(req.headers.authorization, apiKey)) return sendJson(res, 401, { error: 'Unauthorized' });
    received++;
    if (!form || media.length !== 1) return sendError(res, 400, 'Expected a multipart form with one file', 'BadRequestError');
    if (names && !names.has(String(fields.model))) return sendError(res, 404, `The model \`${String(fields.model)}\` does not exist.`, 'NotFoundError');
    const language = typeof fields.language === 'string' ? fields.language : null;
    const text = (transcript ?? ((a) => `The double heard ${a.bytes} bytes of audio${a.language ? ` in ${a.language}` : ''}.`))({ bytes: media[0]!.bytes, language });
    const seconds = media[0]!.bytes / 32_000;
    if (fields.response_format === 'text') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      return void res.end(text);
    }
    if (fields.response_format === 'verbose_json')
      return sendJson(res, 200, { task: 'transcribe', language: language ?? 'en', duration: seconds, text, segments: [{ id: 0, start: 0, end: seconds, text }] });
    sendJson(res, 200, { text, usage: { type: 'duration', seconds: Math.ceil(seconds) } });
  }

  function other(req: http.IncomingMessage, res: http.ServerResponse, path: string) {
    if (req.method === 'GET' && path === '/health') return void res.writeHead(200, { 'content-length': 0 }).end();
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      return void res.end(metricsText(served?.servedName ?? 'double', counters));
    }
    if (apiKey && isGuarded(path) && !bearerMatches(req.headers.authorization, apiKey)) return sendJson(res, 401, { error: 'Unauthorized' });
    if (req.method === 'GET' && path === '/v1/models') return sendJson(res, 200, modelList(served, created));
    sendJson(res, 404, { detail: 'Not Found' });
  }

  return {
    server,
    get requests() {
      return requests;
    },
    get received() {
      return received;
    },
    get active() {
      return counters.active;
    },
    get abandoned() {
      return counters.abandoned;
    },
    get promptTokens() {
      return counters.promptTokens;
    },
    get generationTokens() {
      return counters.generationTokens;
    },
    set(change) {
      Object.assign(script, change);
    },
    clear() {
      requests = [];
    },
  };
}

/** The double listening on 127.0.0.1 (`port` 0: any free one). */
export async function startOpenAIDouble(options: OpenAIDoubleOptions = {}, port = 0): Promise<OpenAIDouble> {
  const double = createOpenAIDouble(options);
  const { server } = double;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', 4096, resolve);
  });
  const actual = (server.address() as AddressInfo).port;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  // Object.assign keeps the counters' getters on the double.
  return Object.assign(double, { url: `http://127.0.0.1:${actual}`, port: actual, close });
}

/**
 * vLLM's /v1/embeddings answer (an embedding model started with `--task embed`): 8 numbers per input made
 * from its characters, so the same text always gets the same vector, and one prompt token per word.
 */
function embeddingsReply(body: Record<string, unknown>, created: number) {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const vectors = inputs.map((input) => {
    const text = typeof input === 'string' ? input : JSON.stringify(input);
    const v = Array.from({ length: 8 }, (_, d) => [...text].reduce((s, ch, i) => s + Math.sin((ch.codePointAt(0)! + d) * (i + 1)), 0));
    const norm = Math.hypot(...v) || 1;
    return v.map((x) => x / norm);
  });
  const tokens = inputs.reduce<number>((n, input) => n + (typeof input === 'string' ? input.split(/\s+/).filter(Boolean).length : Array.isArray(input) ? input.length : 1), 0);
  return {
    id: `embd-${created}`,
    object: 'list',
    created,
    model: String(body.model),
    data: vectors.map((embedding, index) => ({ index, object: 'embedding', embedding })),
    usage: { prompt_tokens: tokens, total_tokens: tokens, completion_tokens: 0, prompt_tokens_details: null },
  };
}

/** The images of a chat body's image_url parts (data: URLs), decoded: what a vision model would see. */
function imagesOf(body: Record<string, unknown>): ReceivedMedia[] {
  const out: ReceivedMedia[] = [];
  for (const m of Array.isArray(body.messages) ? (body.messages as { content?: unknown }[]) : []) {
    if (!Array.isArray(m?.content)) continue;
    for (const part of m.content as { type?: unknown; image_url?: { url?: unknown } }[]) {
      const url = part?.type === 'image_url' ? part.image_url?.url : undefined;
      const match = typeof url === 'string' ? /^data:([^;,]+)[^,]*;base64,(.*)$/s.exec(url) : null;
      if (!match) continue;
      const bytes = Buffer.from(match[2]!, 'base64');
      out.push({ mediaType: match[1]!, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
  }
  return out;
}

/**
 * /v1/audio/speech as a text-to-speech model answers it: audio bytes. The double speaks WAV only (16 kHz
 * mono PCM: a tone 40 ms per character of input, at most 5 s), whatever format was asked, and says so in
 * its content type.
 */
function speechReply(res: http.ServerResponse, body: Record<string, unknown>) {
  if (typeof body.input !== 'string' || body.input.length === 0) return sendError(res, 400, 'input is required', 'BadRequestError');
  const wav = makeWav(Math.min(5, body.input.length * 0.04));
  res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': wav.length });
  res.end(wav);
}

/** A script answering `text`, word by word (each word with the space after it), then finish_reason "stop". */
export function answer(text: string): Partial<ReplyScript> {
  const words = text.split(/(?<= )/);
  return { tokens: words.length, token: (i) => words[i] ?? '', finishReason: 'stop' };
}

/**
 * Requests sent by one install's gateway, told apart by the hop marker it adds (derived from its master
 * key). A double's port may have belonged to another test process a moment ago, whose gateway can still
 * send there: those requests carry no marker of ours.
 */
export function fromGateway(masterKey: Buffer): (r: RecordedRequest) => boolean {
  const marker = hopMarker(masterKey);
  return (r) =>
    String(r.headers[HOP_HEADER] ?? '')
      .split(',')
      .map((s) => s.trim())
      .includes(marker);
}

/** Token write times by the request's x-request-id (what a load generator tags its requests with). */
export function tokenStampsById(requests: readonly RecordedRequest[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const r of requests) {
    const id = r.headers['x-request-id'];
    if (typeof id === 'string') out[id] = r.tokenStamps;
  }
  return out;
}
