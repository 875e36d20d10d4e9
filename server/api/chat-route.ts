import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseChatRequest, type ChatRequest } from '../chat/request';
import { runChatTurn, type ChatSink } from '../chat/send';
import { errorMessage, log } from '../log';
import { writeAudit, type AuditOutcome } from '../security/audit';
import { clientAddress } from '../security/client-address';
import { crossSiteRefusal } from '../security/csrf';
import { DomainError } from '../security/errors';
import { getSessionUser, type SessionUser } from '../security/sessions';
import type { ApiDeps } from './context';
import { readJsonBody, sendError } from './http-util';

// 32,000 characters of up to 4 UTF-8 bytes each, plus the other fields.
const MAX_BODY_BYTES = 160 * 1024;
const KEEPALIVE_MS = 15_000;

/**
 * Server-sent events on the response. Headers go out with the first event, so anything refused
 * before the stream starts still gets a plain JSON error with its real status.
 */
function sseSink(res: ServerResponse): ChatSink & { started: boolean; close(): void } {
  let keepalive: NodeJS.Timeout | undefined;
  const send = (event: string, data: unknown) => {
    if (!sink.started) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store, no-transform', 'x-accel-buffering': 'no' });
      sink.started = true;
      keepalive = setInterval(() => res.writableEnded || res.destroyed || res.write(': keep-alive\n\n'), KEEPALIVE_MS);
    }
    if (!res.writableEnded && !res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const sink = {
    started: false,
    meta: (d: unknown) => send('meta', d),
    delta: (d: unknown) => send('delta', d),
    done: (d: unknown) => send('done', d),
    error: (d: unknown) => send('error', d),
    close() {
      clearInterval(keepalive);
      if (!res.writableEnded) res.end();
    },
  };
  return sink;
}

/** POST /api/chat: one chat turn, streamed. Audited as chat.send with the conversation as target. */
export async function handleChat(deps: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    return sendError(res, new DomainError('BAD_REQUEST', 'Use POST for /api/chat', 405), 'chat');
  }
  const address = clientAddress(req);
  let user: SessionUser | null = null;
  let request: ChatRequest | undefined;
  const audit = (outcome: AuditOutcome, detail: Record<string, unknown>) =>
    writeAudit(deps.db, {
      actorUserId: user?.id,
      actorLabel: user?.email,
      action: 'chat.send',
      target: request?.conversationId,
      clientAddress: address,
      outcome,
      detail: { ...detail, ...(request ? { model: request.model, kind: request.kind } : {}) },
    });

  const aborter = new AbortController();
  // The stop button aborts the browser's fetch: the socket closes before the response has ended.
  res.on('close', () => {
    if (!res.writableFinished) aborter.abort();
  });
  const sink = sseSink(res);
  try {
    user = await getSessionUser(deps.db, req);
    const refusal = crossSiteRefusal(req);
    if (refusal) throw refusal;
    if (!user) throw new DomainError('UNAUTHORIZED', 'Sign in first');
    request = parseChatRequest(await readJsonBody(req, MAX_BODY_BYTES));
    const result = await runChatTurn(deps, user.id, request, sink, aborter.signal);
    await audit(result.outcome, { assistantMessageId: result.assistantMessageId, stopped: result.stopped });
  } catch (e) {
    const domain = e instanceof DomainError ? e : undefined;
    const stoppedBeforeStart = aborter.signal.aborted && !domain;
    await audit(domain && (domain.status === 401 || domain.status === 403) ? 'denied' : 'failure', {
      error: domain?.code ?? (stoppedBeforeStart ? 'CLIENT_CLOSED' : 'INTERNAL'),
    }).catch((auditError) => log.error('audit write failed', { error: errorMessage(auditError) }));
    if (stoppedBeforeStart) return;
    if (!sink.started) return sendError(res, e, 'chat');
    if (!domain) log.error('chat turn failed', { error: errorMessage(e) });
    sink.error({ message: domain?.message ?? 'Internal error', status: domain?.status ?? 500 });
  } finally {
    sink.close();
  }
}
