import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LlamaEmbeddingContext, LlamaModel, Token } from 'node-llama-cpp';
import { z } from 'zod';
import { badRequest, EngineError } from './errors';
import { readJsonBody, sendJson } from './http-io';
import { normalise } from '../../core/vectors';

/** OpenAI's own cap on inputs per request: a client batching more gets a clear 400, not a long stall. */
export const MAX_EMBEDDING_INPUTS = 2048;

const schema = z.object({
  model: z.string().nullish(),
  input: z.unknown(),
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.number().int().min(1).nullish(),
  user: z.string().nullish(),
});

const isTokenIds = (v: unknown): v is Token[] => Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t) && (t as number) >= 0);

/** One string, many strings, one token array or many token arrays (OpenAI's four forms): always a list here. */
function inputsOf(input: unknown): (string | Token[])[] {
  const invalid = (reason: string) => badRequest(`Invalid 'input': ${reason}`, 'input');
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input)) throw invalid('expected a string, an array of strings, or token ids');
  if (input.length === 0) throw invalid('input must not be empty');
  if (input.length > MAX_EMBEDDING_INPUTS) throw invalid(`at most ${MAX_EMBEDDING_INPUTS} inputs per request (got ${input.length})`);
  if (input.every((v) => typeof v === 'string')) return input as string[];
  if (isTokenIds(input)) return [input];
  if (input.every(isTokenIds)) return input as Token[][];
  throw invalid('expected a string, an array of strings, an array of token ids, or an array of non-empty token id arrays');
}

export type EmbeddingRequest = { model: string | undefined; inputs: (string | Token[])[]; base64: boolean; dimensions: number | undefined };

export function parseEmbeddingRequest(body: unknown): EmbeddingRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The request body must be a JSON object.', null, 'invalid_type');
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const param = issue.path.length ? issue.path.map(String).join('.') : 'input';
    throw new EngineError(400, `Invalid '${param}': ${issue.message}`, 'invalid_request_error', param, 'invalid_value');
  }
  const inputs = inputsOf(result.data.input);
  return { model: result.data.model ?? undefined, inputs, base64: result.data.encoding_format === 'base64', dimensions: result.data.dimensions ?? undefined };
}

/**
 * The model's embeddings: one embedding context, made at the first request (a chat-only deployment never
 * pays its memory), used by one request at a time since it has one sequence. Vectors are L2-normalised,
 * as OpenAI's and llama.cpp's server's are, so cosine similarity is a dot product.
 */
export class Embedder {
  private context: Promise<LlamaEmbeddingContext> | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly model: LlamaModel,
    readonly contextSize: number,
    private readonly threads: number,
  ) {}

  /** Token ids a caller may send: the GGUF's token list (an id past it would read out of bounds in llama.cpp). */
  private get vocabulary(): number {
    const tokens = (this.model.fileInfo.metadata as unknown as { tokenizer?: { ggml?: { tokens?: unknown[] } } }).tokenizer?.ggml?.tokens;
    return tokens?.length ?? 0;
  }

  get dimensions(): number {
    return this.model.embeddingVectorSize;
  }

  /** Each input's vector and the tokens it took; inputs longer than the context are refused, never cut. */
  embed(inputs: (string | Token[])[], signal: AbortSignal): Promise<{ vectors: Float32Array[]; promptTokens: number }> {
    const vocabulary = this.vocabulary;
    const tokenized = inputs.map((input, i) => {
      if (typeof input !== 'string') {
        const bad = input.find((t) => t >= vocabulary);
        if (bad !== undefined) throw badRequest(`Invalid 'input[${i}]': token ${bad} is outside this model's vocabulary (${vocabulary} tokens).`, 'input');
        return input;
      }
      if (input.length === 0) throw badRequest(`Invalid 'input[${i}]': an input must not be empty.`, 'input');
      return this.model.tokenize(input, false);
    });
    tokenized.forEach((tokens, i) => {
      if (tokens.length > this.contextSize)
        throw badRequest(`Input ${i} is ${tokens.length} tokens; this model embeds at most ${this.contextSize} tokens per input.`, 'input', 'context_length_exceeded');
    });
    const run = this.queue.then(async () => {
      const context = await this.open();
      const vectors: Float32Array[] = [];
      for (const tokens of tokenized) {
        if (signal.aborted) throw new EngineError(499, 'The client went away.', 'invalid_request_error');
        vectors.push(normalise(Float32Array.from((await context.getEmbeddingFor(tokens)).vector)));
      }
      return { vectors, promptTokens: tokenized.reduce((n, t) => n + t.length, 0) };
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private open(): Promise<LlamaEmbeddingContext> {
    this.context ??= this.model.createEmbeddingContext({ contextSize: this.contextSize, threads: this.threads }).catch((error: unknown) => {
      this.context = null; // a later request tries again
      throw error;
    });
    return this.context;
  }

  async dispose(): Promise<void> {
    const context = await this.context?.catch(() => null);
    await context?.dispose();
  }
}

/** POST /v1/embeddings, in OpenAI's shape: floats, or base64 of little-endian float32 as the OpenAI SDK asks by default. */
/** What the handler needs of the engine (not the engine itself: engine.ts holds the Embedder). */
export interface EmbeddingEngine {
  name: string;
  embedder: Embedder;
  metrics: { prompt(tokens: number): void };
}

export async function handleEmbeddings(engine: EmbeddingEngine, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const disconnect = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) disconnect.abort();
  });
  const request = parseEmbeddingRequest(await readJsonBody(req));
  if (request.model !== undefined && request.model !== engine.name)
    throw new EngineError(404, `The model '${request.model}' does not exist.`, 'invalid_request_error', 'model', 'model_not_found');
  const embedder = engine.embedder;
  if (request.dimensions !== undefined && request.dimensions !== embedder.dimensions)
    throw badRequest(`This model's embeddings have ${embedder.dimensions} dimensions and cannot be shortened to ${request.dimensions}.`, 'dimensions');
  const { vectors, promptTokens } = await embedder.embed(request.inputs, disconnect.signal);
  engine.metrics.prompt(promptTokens);
  sendJson(res, 200, {
    object: 'list',
    data: vectors.map((v, index) => ({
      object: 'embedding',
      index,
      embedding: request.base64 ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v),
    })),
    model: engine.name,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  });
}
