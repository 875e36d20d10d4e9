import { randomBytes } from 'node:crypto';
import type { GenerationOutcome } from './engine';

/** Response shapes of OpenAI's chat.completion(.chunk) and text_completion objects. */
export type Endpoint = 'chat' | 'completion';

export function newResponseId(endpoint: Endpoint): string {
  return `${endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`;
}

export function usageOf(outcome: GenerationOutcome) {
  return {
    prompt_tokens: outcome.promptTokens,
    completion_tokens: outcome.completionTokens,
    total_tokens: outcome.promptTokens + outcome.completionTokens,
  };
}

type ChunkHead = { id: string; created: number; model: string; includeUsage: boolean };

/** The fields every response object starts with, in OpenAI's order. */
function envelope(object: string, head: Omit<ChunkHead, 'includeUsage'>) {
  return { id: head.id, object, created: head.created, model: head.model };
}

const chunkObject = (endpoint: Endpoint) => (endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion');

/** One streamed chunk. With include_usage, OpenAI puts `usage: null` on every chunk but the last. */
export function streamChunk(
  endpoint: Endpoint,
  head: ChunkHead,
  piece: { role?: 'assistant'; text?: string; finishReason?: string | null },
) {
  const finish_reason = piece.finishReason ?? null;
  const choice =
    endpoint === 'chat'
      ? {
          index: 0,
          delta: piece.role ? { role: piece.role, content: '' } : piece.text !== undefined ? { content: piece.text } : {},
          logprobs: null,
          finish_reason,
        }
      : { index: 0, text: piece.text ?? '', logprobs: null, finish_reason };
  return { ...envelope(chunkObject(endpoint), head), choices: [choice], ...(head.includeUsage ? { usage: null } : {}) };
}

/** The closing chunk OpenAI sends when include_usage is set: no choices, only usage. */
export function usageChunk(endpoint: Endpoint, head: ChunkHead, outcome: GenerationOutcome) {
  return { ...envelope(chunkObject(endpoint), head), choices: [], usage: usageOf(outcome) };
}

export function fullResponse(endpoint: Endpoint, head: Omit<ChunkHead, 'includeUsage'>, text: string, outcome: GenerationOutcome) {
  const choice =
    endpoint === 'chat'
      ? { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: outcome.finishReason }
      : { index: 0, text, logprobs: null, finish_reason: outcome.finishReason };
  return { ...envelope(endpoint === 'chat' ? 'chat.completion' : 'text_completion', head), choices: [choice], usage: usageOf(outcome) };
}
