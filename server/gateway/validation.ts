import { exceedsJsonDepth, MAX_JSON_DEPTH } from '../core/json-input';
import { GatewayError } from './errors';

/**
 * What the gateway checks before forwarding. Unknown fields pass through untouched (engines accept
 * extensions such as vLLM's `top_k`), but every field the gateway or an engine relies on is typed, so a
 * bad value gets a 400 naming it instead of an engine crash.
 *
 * Hand-written rather than a zod schema: this runs on every request on the hot path, and a generic
 * schema walk cost ~0.1 ms per request here, a burst of 200 streams queued behind it (bench/gateway).
 */
export const MAX_TOKENS_LIMIT = 131_072;
const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

interface Common {
  model: string;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean; [k: string]: unknown } | null;
  max_tokens?: number | null;
  [k: string]: unknown;
}
export interface ChatCompletionBody extends Common {
  messages: { role: string; content?: unknown; name?: string; [k: string]: unknown }[];
  max_completion_tokens?: number | null;
}
export interface CompletionBody extends Common {
  prompt: string | string[] | number[] | number[][];
}
/** /v1/embeddings: never streamed, one answer with every input's vector. */
export interface EmbeddingBody extends Common {
  input: string | string[] | number[] | number[][];
  encoding_format?: 'float' | 'base64' | null;
  dimensions?: number | null;
}
export type ForwardedBody = ChatCompletionBody | CompletionBody | EmbeddingBody;
export type BodyKind = 'chat' | 'completion' | 'embedding';
/** OpenAI's own cap on inputs per embeddings request. */
export const MAX_EMBEDDING_INPUTS = 2048;

class Invalid extends Error {
  constructor(
    readonly param: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const absent = (v: unknown) => v === undefined || v === null;

function number(o: Record<string, unknown>, key: string, min: number, max: number, { int = false, exclusiveMin = false } = {}) {
  const v = o[key];
  if (absent(v)) return;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Invalid(key, 'expected a number');
  if (int && !Number.isInteger(v)) throw new Invalid(key, 'expected an integer');
  if (exclusiveMin ? v <= min : v < min) throw new Invalid(key, `must be ${exclusiveMin ? 'greater than' : 'at least'} ${min}`);
  if (v > max) throw new Invalid(key, `must be at most ${max}`);
}

/** Names Enclave keeps (request logs, metrics labels): no NUL (PostgreSQL refuses it) and no lone surrogate (UTF-8 cannot carry it). */
function storable(key: string, value: string) {
  if (value.includes('\u0000')) throw new Invalid(key, 'contains a NUL character (\\u0000)');
  if (!value.isWellFormed()) throw new Invalid(key, 'contains an unpaired UTF-16 surrogate');
}

function common(o: Record<string, unknown>) {
  const model = o.model;
  if (typeof model !== 'string' || model.length === 0 || model.length > 256) throw new Invalid('model', 'expected a model name (1 to 256 characters)');
  storable('model', model);
  if (!absent(o.stream) && typeof o.stream !== 'boolean') throw new Invalid('stream', 'expected a boolean');
  const so = o.stream_options;
  if (!absent(so)) {
    if (!isObject(so)) throw new Invalid('stream_options', 'expected an object');
    if (so.include_usage !== undefined && typeof so.include_usage !== 'boolean') throw new Invalid('stream_options.include_usage', 'expected a boolean');
  }
  number(o, 'max_tokens', 1, MAX_TOKENS_LIMIT, { int: true });
  number(o, 'temperature', 0, 2);
  number(o, 'top_p', 0, 1, { exclusiveMin: true });
  number(o, 'n', 1, 16, { int: true });
  number(o, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, { int: true });
  number(o, 'presence_penalty', -2, 2);
  number(o, 'frequency_penalty', -2, 2);
  const stop = o.stop;
  if (!absent(stop) && typeof stop !== 'string') {
    if (!Array.isArray(stop) || stop.length > 4) throw new Invalid('stop', 'expected a string or up to 4 strings');
    stop.forEach((s, i) => {
      if (typeof s !== 'string') throw new Invalid(`stop[${i}]`, 'expected a string');
    });
  }
  if (o.user !== undefined && (typeof o.user !== 'string' || o.user.length > 256)) throw new Invalid('user', 'expected a string of at most 256 characters');
  if (typeof o.user === 'string') storable('user', o.user);
}

function chat(o: Record<string, unknown>) {
  number(o, 'max_completion_tokens', 1, MAX_TOKENS_LIMIT, { int: true });
  const messages = o.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw new Invalid('messages', 'expected a non-empty array of messages');
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (!isObject(m)) throw new Invalid(`messages[${i}]`, 'expected a message object');
    if (typeof m.role !== 'string' || !ROLES.has(m.role)) throw new Invalid(`messages[${i}].role`, `expected one of ${[...ROLES].join(', ')}`);
    const c = m.content;
    if (c !== undefined && c !== null && typeof c !== 'string') {
      if (!Array.isArray(c)) throw new Invalid(`messages[${i}].content`, 'expected a string, an array of content parts, or null');
      c.forEach((part, j) => {
        if (!isObject(part) || typeof part.type !== 'string' || part.type.length === 0)
          throw new Invalid(`messages[${i}].content[${j}].type`, 'expected a content part with a type');
      });
    }
    if (m.name !== undefined && typeof m.name !== 'string') throw new Invalid(`messages[${i}].name`, 'expected a string');
  }
}

const isInt = (v: unknown) => Number.isInteger(v);

function completion(o: Record<string, unknown>) {
  const p = o.prompt;
  if (typeof p === 'string') return;
  const ok =
    Array.isArray(p) &&
    p.length > 0 &&
    (p.every((s) => typeof s === 'string') || p.every(isInt) || p.every((a) => Array.isArray(a) && a.length > 0 && a.every(isInt)));
  if (!ok) throw new Invalid('prompt', 'expected a string, an array of strings, or token ids');
}

function embedding(o: Record<string, unknown>) {
  if (o.stream === true) throw new Invalid('stream', 'embeddings are not streamed');
  const p = o.input;
  if (typeof p !== 'string') {
    if (!Array.isArray(p) || p.length === 0) throw new Invalid('input', 'expected a string, an array of strings, or token ids');
    if (p.length > MAX_EMBEDDING_INPUTS) throw new Invalid('input', `at most ${MAX_EMBEDDING_INPUTS} inputs per request`);
    const ok = p.every((s) => typeof s === 'string') || p.every(isInt) || p.every((a) => Array.isArray(a) && a.length > 0 && a.every(isInt));
    if (!ok) throw new Invalid('input', 'expected a string, an array of strings, or token ids');
  }
  const format = o.encoding_format;
  if (!absent(format) && format !== 'float' && format !== 'base64') throw new Invalid('encoding_format', "expected 'float' or 'base64'");
  number(o, 'dimensions', 1, 65_536, { int: true });
}

/** Parses and validates a request body; throws a 400 GatewayError naming the first bad field. */
export function parseBody(kind: 'chat', raw: Buffer): ChatCompletionBody;
export function parseBody(kind: 'completion', raw: Buffer): CompletionBody;
export function parseBody(kind: 'embedding', raw: Buffer): EmbeddingBody;
export function parseBody(kind: BodyKind, raw: Buffer): ForwardedBody;
export function parseBody(kind: BodyKind, raw: Buffer): ForwardedBody {
  // Parsing is iterative, but re-serialising (an experiment's model rename, stream options) is not.
  if (exceedsJsonDepth(raw))
    throw new GatewayError(400, 'invalid_request_error', 'invalid_body', `The request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new GatewayError(400, 'invalid_request_error', 'invalid_json', 'The request body is not valid JSON');
  }
  if (!isObject(json)) throw new GatewayError(400, 'invalid_request_error', 'invalid_body', 'The request body must be a JSON object');
  try {
    common(json);
    if (kind === 'chat') chat(json);
    else if (kind === 'embedding') embedding(json);
    else completion(json);
  } catch (e) {
    if (!(e instanceof Invalid)) throw e;
    throw new GatewayError(400, 'invalid_request_error', 'invalid_value', `Invalid value for '${e.param}': ${e.reason}`, e.param);
  }
  return json as ForwardedBody;
}
