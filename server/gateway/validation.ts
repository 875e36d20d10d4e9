import { z } from 'zod';
import { GatewayError } from './errors';

/**
 * What the gateway checks before forwarding. Unknown fields pass through untouched (engines accept
 * extensions such as vLLM's `top_k`), but every field the gateway or an engine relies on is typed, so a
 * bad value gets a 400 naming it instead of an engine crash.
 */
export const MAX_TOKENS_LIMIT = 131_072;

const tokens = z.number().int().min(1).max(MAX_TOKENS_LIMIT);
const stop = z.union([z.string(), z.array(z.string()).max(4)]).nullish();
const contentPart = z.looseObject({ type: z.string().min(1) });
const message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
  name: z.string().optional(),
});

const sampling = {
  model: z.string().min(1).max(256),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: tokens.nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  n: z.number().int().min(1).max(16).nullish(),
  seed: z.number().int().nullish(),
  stop,
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  user: z.string().max(256).optional(),
};

export const chatCompletionSchema = z.looseObject({
  ...sampling,
  messages: z.array(message).min(1),
  max_completion_tokens: tokens.nullish(),
});

export const completionSchema = z.looseObject({
  ...sampling,
  prompt: z.union([
    z.string(),
    z.array(z.string()).min(1),
    z.array(z.number().int()).min(1),
    z.array(z.array(z.number().int()).min(1)).min(1),
  ]),
});

export type ChatCompletionBody = z.infer<typeof chatCompletionSchema>;
export type CompletionBody = z.infer<typeof completionSchema>;
export type ForwardedBody = ChatCompletionBody | CompletionBody;

/** `messages[0].role`, as OpenAI names nested parameters. */
function paramName(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out;
}

/** Parses and validates a request body; throws a 400 GatewayError naming the first bad field. */
export function parseBody<T extends z.ZodType>(schema: T, raw: Buffer): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new GatewayError(400, 'invalid_request_error', 'invalid_json', 'The request body is not valid JSON');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new GatewayError(400, 'invalid_request_error', 'invalid_body', 'The request body must be a JSON object');
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const param = paramName(issue.path);
    throw new GatewayError(400, 'invalid_request_error', 'invalid_value', `Invalid value for '${param}': ${issue.message}`, param);
  }
  return result.data;
}
