import { log } from '../core/log';
import { completeOnce } from './gateway-client';
import { Conversations, titleFromMessage } from './conversations';
import type { FitDeps } from './context/prepare';

const TITLE_PROMPT =
  'Write a title of at most six words for a conversation that begins with the message below. Use the language of the message. Answer with the title only, no quotes.';

/** The model's answer as a title: its first line, without quotes, markup or a closing full stop. */
export function cleanModelTitle(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line
    .replace(/^(title|标题)\s*[:：]\s*/i, '')
    .replace(/^[\s"'“”‘’「」*#]+|[\s"'“”‘’「」*#]+$/g, '')
    .replace(/[.。]$/, '')
    .slice(0, 80)
    .trim();
}

/**
 * After a conversation's first exchange, asks the model for a short title in the conversation's own
 * language and sets it, unless the owner renamed the conversation meanwhile (the title is no longer the one
 * taken from the first message). Best effort: a failure leaves that title, and is logged without content.
 */
export async function titleFromModel(
  deps: FitDeps,
  userId: string,
  input: { conversationId: string; model: string; firstMessage: string; classification: { level: number; conversationId: string } },
): Promise<void> {
  const conversations = new Conversations(deps.db, deps.masterKey, userId);
  try {
    // Only the title taken from the first message is replaced: a rename, even one made while the reply streamed, stays.
    const expected = titleFromMessage(input.firstMessage);
    const { text } = await completeOnce({
      ...deps,
      userId,
      signal: AbortSignal.timeout(60_000),
      classification: input.classification,
      request: { model: input.model, maxTokens: 24, temperature: 0.2, messages: [{ role: 'user', content: `${TITLE_PROMPT}\n\n${input.firstMessage.slice(0, 2000)}` }] },
    });
    const title = cleanModelTitle(text);
    if (title) await conversations.retitle(input.conversationId, expected, title);
  } catch (e) {
    log.info('chat: no title from the model', { conversationId: input.conversationId, error: e instanceof Error ? e.name : 'unknown' });
  }
}
