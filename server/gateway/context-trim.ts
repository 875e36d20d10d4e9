import { estimateTokens, keepLatest, promptBudget } from '../chat/context/fit';
import { GatewayError } from './errors';
import type { ChatCompletionBody } from './validation';

/** The header by which a /v1 caller opts in to having its history fitted; without it nothing is ever dropped. */
export const CONTEXT_HEADER = 'x-enclave-context';

/** The gateway has no tokenizer and learns nothing per model: the chat's starting estimate (3 characters a token, errs long). */
const WINDOW = { charsPerToken: 3 };

const cost = (m: ChatCompletionBody['messages'][number]) => estimateTokens(typeof m.content === 'string' ? m.content : JSON.stringify(m.content ?? ''), WINDOW);

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
