import { z } from 'zod';
import { MAX_CONTENT_CHARS } from '../../chat/request';
import { DomainError } from '../../core/errors';

// Short answers keep a round quick to read and compare, and keep two engines busy for less time.
export const ARENA_DEFAULT_MAX_TOKENS = 256;

const schema = z.strictObject({
  content: z
    .string({ error: 'content must be a string' })
    .refine((s) => s.trim().length > 0, 'content cannot be empty')
    .refine((s) => s.length <= MAX_CONTENT_CHARS, `content must be at most ${MAX_CONTENT_CHARS} characters`),
  maxTokens: z.number({ error: 'maxTokens must be a number' }).int('maxTokens must be an integer').min(1, 'maxTokens must be between 1 and 2048').max(2048, 'maxTokens must be between 1 and 2048').default(ARENA_DEFAULT_MAX_TOKENS),
  temperature: z.number({ error: 'temperature must be a number' }).min(0, 'temperature must be between 0 and 2').max(2, 'temperature must be between 0 and 2').optional(),
});

export type ArenaRequest = z.infer<typeof schema>;

/** arena.start's input: typed for the client, checked by parseArenaRequest. */
export const arenaRequestInput = z.custom<z.input<typeof schema>>().transform((body) => parseArenaRequest(body));

/** Validates one round's request; a DomainError (400) names the first bad field. */
export function parseArenaRequest(body: unknown): ArenaRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new DomainError('BAD_REQUEST', 'The body must be a JSON object');
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.join('.');
    const message = issue.code === 'unrecognized_keys' ? `Unknown field(s): ${issue.keys.join(', ')}` : issue.message;
    throw new DomainError('BAD_REQUEST', field && !message.includes(field) ? `${field}: ${message}` : message);
  }
  return result.data;
}
