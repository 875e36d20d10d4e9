import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseChatRequest } from '../chat/request';
import { runChatTurn } from '../chat/send';
import type { ApiDeps } from './context';
import { handleStreamingPost } from './streaming-post';

// 32,000 characters of up to 4 UTF-8 bytes each, plus the other fields.
const MAX_BODY_BYTES = 160 * 1024;

/** POST /api/chat: one chat turn, streamed. Audited as chat.send with the conversation as target. */
export function handleChat(deps: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return handleStreamingPost(deps, req, res, {
    path: '/api/chat',
    action: 'chat.send',
    maxBodyBytes: MAX_BODY_BYTES,
    async run({ user, body, events, signal, auditWith }) {
      const request = parseChatRequest(body);
      auditWith({ target: request.conversationId, detail: { model: request.model, kind: request.kind } });
      const sink = {
        meta: (d: unknown) => events.send('meta', d),
        delta: (d: unknown) => events.send('delta', d),
        done: (d: unknown) => events.send('done', d),
        error: (d: unknown) => events.send('error', d),
      };
      const result = await runChatTurn(deps, user.id, request, sink, signal);
      return { outcome: result.outcome, detail: { assistantMessageId: result.assistantMessageId, stopped: result.stopped } };
    },
  });
}
