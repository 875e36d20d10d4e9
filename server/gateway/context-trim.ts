import { GatewayError } from './errors';
import type { ChatCompletionBody } from './validation';

/** The header by which a /v1 caller opts in to having its history fitted; without it nothing is ever dropped. */
export const CONTEXT_HEADER = 'x-enclave-context';

/** Characters per token the estimate assumes: low (English is about 4), so it errs towards dropping. */
const CHARS_PER_TOKEN = 3;
/** Tokens a chat template adds around each message. */
const PER_MESSAGE_TOKENS = 6;

const cost = (m: ChatCompletionBody['messages'][number]) =>
  Math.ceil((typeof m.content === 'string' ? m.content.length : JSON.stringify(m.content ?? '').length) / CHARS_PER_TOKEN) + PER_MESSAGE_TOKENS;

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
  const asked = body.max_completion_tokens ?? body.max_tokens ?? null;
  const reserve = Math.min(asked ?? Math.floor(contextTokens / 4), Math.max(16, Math.floor(contextTokens / 4)));
  const budget = contextTokens - reserve - Math.ceil(contextTokens * 0.05);
  let total = messages.reduce((n, m) => n + cost(m), 0);
  let drop = 0;
  const last = messages.length - 1;
  while (total > budget && head + drop < last) {
    total -= cost(messages[head + drop]!);
    drop++;
    // A kept history never opens with a reply or a tool result whose question was dropped.
    while (head + drop < last && messages[head + drop]!.role !== 'user') {
      total -= cost(messages[head + drop]!);
      drop++;
    }
  }
  if (drop > 0) messages.splice(head, drop);
  return drop;
}
