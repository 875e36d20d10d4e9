import { chatRequestInput, MAX_CHAT_IMAGE_BYTES } from '../../chat/request';
import { runChatTurn, type ChatSink } from '../../chat/send';
import { turnToolsFor } from '../../tools/chat-tools';
import { eventQueue, sinkTo, type SinkEvent } from '../event-queue';
import { router, streamingProcedure } from '../trpc';

// 32,000 characters of up to 4 UTF-8 bytes each, plus the other fields, plus the images' base64
// (MAX_CHAT_IMAGE_BYTES decoded: 800 KiB); under the 1 MiB every tRPC body is held to.
const MAX_BODY_BYTES = 160 * 1024 + Math.ceil((MAX_CHAT_IMAGE_BYTES * 4) / 3) + 4 * 1024;

/** One turn's events, in order: meta, deltas, then done, or error (the turn failed after it started). */
export type ChatEvent = SinkEvent<ChatSink>;

export const chatRouter = router({
  /**
   * One chat turn, streamed (httpBatchStreamLink). Aborting the call is the stop button: the partial
   * reply is kept, marked stopped. Audited as chat.send with the conversation as target; the turn
   * writes that row itself, with its reply's last write (detail: assistantMessageId, stopped).
   */
  send: streamingProcedure(MAX_BODY_BYTES)
    .input(chatRequestInput)
    .mutation(async function* ({ ctx, input, signal }) {
      ctx.streamAudit.with({ target: input.conversationId, detail: { model: input.model, kind: input.kind } });
      const deps = { db: ctx.db, masterKey: ctx.masterKey, gatewayUrl: ctx.gatewayUrl, replyLeaseMs: ctx.env.ENCLAVE_REPLY_LEASE_MS, modelTitles: ctx.env.ENCLAVE_CHAT_TITLES === 'model', tools: (userId: string, model: string) => turnToolsFor(ctx.db, ctx.masterKey, userId, model) };
      yield* eventQueue<ChatEvent>((emit) => runChatTurn(deps, ctx.user.id, input, sinkTo<ChatSink>(emit), signal!, ctx.streamAudit.entry));
    }),
});
