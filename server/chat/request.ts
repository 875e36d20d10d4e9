import { z } from 'zod';
import { DomainError } from '../core/errors';
import { ImageError, inspectDataUrl, type ImageInfo } from '../core/images';

export const MAX_CONTENT_CHARS = 32_000;
export const DEFAULT_MAX_TOKENS = 512;
/**
 * Images on one chat message (issue 16, part 5): at most 4, 600 KiB together (decoded). A turn travels as
 * one tRPC body (1 MiB at most), so the composer scales pictures down before sending (image-attach.tsx).
 */
export const MAX_CHAT_IMAGES = 4;
export const MAX_CHAT_IMAGE_BYTES = 600 * 1024;

const uuid = (field: string) => z.string({ error: (iss) => (iss.input === undefined ? `${field} is required` : `${field} must be a string id`) }).regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, `${field} must be a uuid`);
const settings = {
  conversationId: uuid('conversationId'),
  model: z.string({ error: 'model is required' }).trim().min(1, 'model is required').max(200, 'model is too long'),
  temperature: z.number({ error: 'temperature must be a number' }).min(0, 'temperature must be between 0 and 2').max(2, 'temperature must be between 0 and 2').optional(),
  maxTokens: z.number({ error: 'maxTokens must be a number' }).int('maxTokens must be an integer').min(1, 'maxTokens must be between 1 and 4096').max(4096, 'maxTokens must be between 1 and 4096').default(DEFAULT_MAX_TOKENS),
};

/** A new user message, a child of parentId (an edit is a new child of the edited message's parent). */
const sendSchema = z.strictObject({
  ...settings,
  parentId: uuid('parentId').nullable(),
  content: z
    .string({ error: 'content must be a string' })
    .refine((s) => s.trim().length > 0, 'content cannot be empty')
    .refine((s) => s.length <= MAX_CONTENT_CHARS, `content must be at most ${MAX_CONTENT_CHARS} characters`),
  /** data: URLs (PNG, JPEG, WebP, GIF), checked by their bytes in parseChatRequest. */
  images: z.array(z.string({ error: 'images must be data: URLs' }), { error: 'images must be a list of data: URLs' }).max(MAX_CHAT_IMAGES, `at most ${MAX_CHAT_IMAGES} images per message`).optional(),
});

/** Another answer to an existing user message: a new assistant sibling. */
const regenerateSchema = z.strictObject({ ...settings, regenerateFrom: uuid('regenerateFrom') });

export type SendRequest = Omit<z.infer<typeof sendSchema>, 'images'> & { kind: 'send'; images?: ChatImage[] };
/** An image of a message being sent: its data: URL and what its bytes are. */
export interface ChatImage {
  dataUrl: string;
  info: ImageInfo;
}
export type RegenerateRequest = z.infer<typeof regenerateSchema> & { kind: 'regenerate' };
export type ChatRequest = SendRequest | RegenerateRequest;

/** What a client sends for one turn (chat.send): a new message, or another answer to one. */
export type ChatRequestInput = z.input<typeof sendSchema> | z.input<typeof regenerateSchema>;

/** chat.send's input: typed for the client as ChatRequestInput, checked by parseChatRequest. */
export const chatRequestInput = z.custom<ChatRequestInput>().transform((body) => parseChatRequest(body));

/** Validates one turn's request; a DomainError (400) names the first bad field. */
export function parseChatRequest(body: unknown): ChatRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new DomainError('BAD_REQUEST', 'The body must be a JSON object');
  const isRegenerate = 'regenerateFrom' in body;
  const result = (isRegenerate ? regenerateSchema : sendSchema).safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.join('.');
    const message = issue.code === 'unrecognized_keys' ? `Unknown field(s): ${issue.keys.join(', ')}` : issue.message;
    throw new DomainError('BAD_REQUEST', field && !message.includes(field) ? `${field}: ${message}` : message);
  }
  if (!isRegenerate) {
    const urls = (result.data as { images?: string[] }).images;
    const images = urls?.length ? checkImages(urls) : undefined;
    return { ...(result.data as z.infer<typeof sendSchema>), images, kind: 'send' };
  }
  return { ...result.data, kind: 'regenerate' } as ChatRequest;
}

/** Each image checked by its bytes (the gateway's rules), and all of them within the turn's allowance. */
function checkImages(urls: string[]): ChatImage[] {
  let total = 0;
  return urls.map((dataUrl, i) => {
    try {
      const info = inspectDataUrl(dataUrl, `images[${i}]`, { maxImageBytes: MAX_CHAT_IMAGE_BYTES });
      total += info.bytes;
      if (total > MAX_CHAT_IMAGE_BYTES) throw new DomainError('BAD_REQUEST', `images: at most ${MAX_CHAT_IMAGE_BYTES / 1024} KiB together per message`);
      return { dataUrl, info };
    } catch (e) {
      if (e instanceof ImageError) throw new DomainError('BAD_REQUEST', `images[${i}]: ${e.message}`);
      throw e;
    }
  });
}
