import { z } from 'zod';
import { badRequest, EngineError } from './errors';
import type { ChatTurn } from './chat-template';

/** Sampling fields shared by /v1/chat/completions and /v1/completions. Unknown fields are ignored, as OpenAI does. */
const sampling = {
  model: z.string().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(4)]).nullish(),
  n: z.literal(1, { error: 'n must be 1: this engine returns one choice' }).nullish(),
  /** vLLM's extension: keep generating past end-of-sequence, for fixed-length benchmarks and tests. */
  ignore_eos: z.boolean().nullish(),
};

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(textPart), z.null()]),
});

const chatSchema = z.object({ ...sampling, messages: z.array(message).min(1, 'messages must not be empty') });
const completionSchema = z.object({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.string()).length(1, 'prompt must be one string')]),
});

/** What the generator needs, whichever endpoint the request came through. */
export type GenerationRequest = {
  stream: boolean;
  includeUsage: boolean;
  maxTokens: number | undefined;
  temperature: number;
  topP: number;
  seed: number | undefined;
  stop: string[];
  ignoreEos: boolean;
  model: string | undefined;
};

function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>((acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), '');
}

function parseOrThrow<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object.', null, 'invalid_type');
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const param = formatPath(issue.path);
  throw new EngineError(400, param ? `Invalid '${param}': ${issue.message}` : issue.message, 'invalid_request_error', param || null, 'invalid_value');
}

function generationFields(body: z.infer<typeof chatSchema> | z.infer<typeof completionSchema>): GenerationRequest {
  return {
    stream: body.stream ?? false,
    includeUsage: body.stream_options?.include_usage ?? false,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    // OpenAI's defaults, not llama.cpp's: temperature 1, no nucleus cut.
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    seed: body.seed ?? undefined,
    stop: body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop,
    ignoreEos: body.ignore_eos ?? false,
    model: body.model ?? undefined,
  };
}

export function parseChatRequest(body: unknown): GenerationRequest & { turns: ChatTurn[] } {
  const parsed = parseOrThrow(chatSchema, body);
  const turns = parsed.messages.map((m) => ({
    role: m.role,
    content: m.content == null ? '' : typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join(''),
  }));
  return { ...generationFields(parsed), turns };
}

export function parseCompletionRequest(body: unknown): GenerationRequest & { prompt: string } {
  const parsed = parseOrThrow(completionSchema, body);
  return { ...generationFields(parsed), prompt: typeof parsed.prompt === 'string' ? parsed.prompt : parsed.prompt[0]! };
}
