import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage, log } from '../log';
import { writeAudit, type AuditOutcome } from '../security/audit';
import { clientAddress } from '../security/client-address';
import { crossSiteRefusal } from '../security/csrf';
import { DomainError } from '../security/errors';
import { getSessionUser, type SessionUser } from '../security/sessions';
import type { ApiDeps } from './context';
import { readJsonBody, sendError } from './http-util';

const KEEPALIVE_MS = 15_000;

/** Server-sent events on the response; headers go out with the first event. */
export interface EventStream {
  send(event: string, data: unknown): void;
}

export interface StreamingCall {
  user: SessionUser;
  body: unknown;
  events: EventStream;
  /** Aborted when the client goes away before the response has ended (the stop button). */
  signal: AbortSignal;
  /** What the audit row names once it is known (a failure after this point is audited with it too). */
  auditWith(fields: { target?: string; detail?: Record<string, unknown> }): void;
}

/**
 * The frame of a streaming, audited POST route (chat, arena): POST only; the session, the same-site check
 * and sign-in, in that order; a JSON body of at most `maxBodyBytes`; events whose headers go out with the
 * first one, so anything refused before the stream starts is a plain JSON error with its real status,
 * and an error after it is an `error` event; a keep-alive comment while it runs; and one audit row per
 * call: `denied` for 401/403, `failure` with the error code, CLIENT_CLOSED when the client left first.
 */
export async function handleStreamingPost(
  deps: ApiDeps,
  req: IncomingMessage,
  res: ServerResponse,
  route: { path: string; action: string; maxBodyBytes: number; run(call: StreamingCall): Promise<{ outcome: AuditOutcome; target?: string; detail: Record<string, unknown> }> },
): Promise<void> {
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    return sendError(res, new DomainError('BAD_REQUEST', `Use POST for ${route.path}`, 405), route.path);
  }
  const address = clientAddress(req);
  let user: SessionUser | null = null;
  const known: { target?: string; detail: Record<string, unknown> } = { detail: {} };
  const audit = (outcome: AuditOutcome, detail: Record<string, unknown>, target = known.target) =>
    writeAudit(deps.db, { actorUserId: user?.id, actorLabel: user?.email, action: route.action, target, clientAddress: address, outcome, detail: { ...detail, ...known.detail } });

  const aborter = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) aborter.abort();
  });
  let started = false;
  let keepalive: NodeJS.Timeout | undefined;
  const events: EventStream = {
    send(event, data) {
      if (!started) {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store, no-transform', 'x-accel-buffering': 'no' });
        started = true;
        keepalive = setInterval(() => res.writableEnded || res.destroyed || res.write(': keep-alive\n\n'), KEEPALIVE_MS);
      }
      if (!res.writableEnded && !res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
  };
  try {
    user = await getSessionUser(deps.db, req);
    const refusal = crossSiteRefusal(req);
    if (refusal) throw refusal;
    if (!user) throw new DomainError('UNAUTHORIZED', 'Sign in first');
    const body = await readJsonBody(req, route.maxBodyBytes);
    const result = await route.run({
      user,
      body,
      events,
      signal: aborter.signal,
      auditWith: (fields) => {
        if (fields.target !== undefined) known.target = fields.target;
        Object.assign(known.detail, fields.detail);
      },
    });
    await audit(result.outcome, result.detail, result.target ?? known.target);
  } catch (e) {
    const domain = e instanceof DomainError ? e : undefined;
    const stoppedBeforeStart = aborter.signal.aborted && !domain;
    await audit(domain && (domain.status === 401 || domain.status === 403) ? 'denied' : 'failure', {
      error: domain?.code ?? (stoppedBeforeStart ? 'CLIENT_CLOSED' : 'INTERNAL'),
    }).catch((auditError) => log.error('audit write failed', { error: errorMessage(auditError) }));
    if (stoppedBeforeStart) return;
    if (!started) return sendError(res, e, route.path);
    if (!domain) log.error('streaming request failed', { route: route.path, error: errorMessage(e) });
    events.send('error', { message: domain?.message ?? 'Internal error', status: domain?.status ?? 500 });
  } finally {
    clearInterval(keepalive);
    if (!res.writableEnded) res.end();
  }
}
