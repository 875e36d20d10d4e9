import { estimateTokens, keepLatest, promptBudget } from '../chat/context/fit';
import { dataUrlImageTokens } from '../core/images';
import { GatewayError } from './errors';
import type { ChatCompletionBody } from './validation';

/** The header by which a /v1 caller opts in to having its history fitted; without it nothing is ever dropped. */
export const CONTEXT_HEADER = 'x-enclave-context';

/** The gateway has no tokenizer and learns nothing per model: the chat's starting estimate (3 characters a token, errs long). */
const WINDOW = { charsPerToken: 3 };

/** A message's estimate: its text (other parts as their JSON), and each image at the quota's estimate (not its base64's length). */
function cost(m: ChatCompletionBody['messages'][number]): number {
  if (!Array.isArray(m.content)) return estimateTokens(typeof m.content === 'string' ? m.content : JSON.stringify(m.content ?? ''), WINDOW);
  let images = 0;
  const rest = (m.content as Record<string, unknown>[]).filter((part) => {
    const url = part?.type === 'image_url' ? (part.image_url as { url?: unknown; detail?: unknown } | undefined)?.url : undefined;
    if (typeof url !== 'string') return true;
    const detail = (part.image_url as { detail?: unknown }).detail;
    images += dataUrlImageTokens(url, typeof detail === 'string' ? detail : null);
    return false;
  });
  return estimateTokens(JSON.stringify(rest), WINDOW) + images;
}

/**
 * `x-enclave-context: trim` on /v1/chat/completions: the leading system messages and the latest turns
 * are kept and the oldest others dropped until the estimate fits the deployment's declared context with
 * room for the reply. The chat's summarising policy needs a stored conversation, so /v1 offers trimming
 * only. Returns how many messages were dropped (0 when the context is unknown or it already fits).
 */
export function trimToContext(value: string | string[], path: string, body: ChatCompletionBody, contextTokens: number | undefined): number {
  if (value !== 'trim')
    throw new GatewayError(400, 'invalid_request_error', 'invalid_value', `Invalid value for '${CONTEXT_HEADER}': expected 'trim' (drop the oldest messages that do not fit the model's context)`, CONTEXT_HEADER);
  if (path !== '/v1/chat/completions')
    throw new GatewayError(400, 'invalid_request_error', 'invalid_value', `'${CONTEXT_HEADER}' applies to /v1/chat/completions only`, CONTEXT_HEADER);
  if (contextTokens === undefined) return 0;
  const messages = body.messages;
  let head = 0;
  while (head < messages.length - 1 && (messages[head]!.role === 'system' || messages[head]!.role === 'developer')) head++;
  const budget = promptBudget(contextTokens, body.max_completion_tokens ?? body.max_tokens ?? null);
  const costs = messages.map(cost);
  const total = costs.reduce((a, b) => a + b, 0);
  // The leading system messages always stay: only what follows them is dropped, oldest first.
  const { start } = keepLatest(costs, messages.map((m) => m.role), head, total, budget);
  const drop = start - head;
  if (drop > 0) messages.splice(head, drop);
  return drop;
}
