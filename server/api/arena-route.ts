import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseArenaRequest } from '../evaluation/arena/request';
import { runBattle, type ArenaSink } from '../evaluation/arena/run-battle';
import { errorMessage, log } from '../log';
import { writeAudit, type AuditOutcome } from '../security/audit';
import { clientAddress } from '../security/client-address';
import { crossSiteRefusal } from '../security/csrf';
import { DomainError } from '../security/errors';
import { getSessionUser, type SessionUser } from '../security/sessions';
import type { ApiDeps } from './context';
import { readJsonBody, sendError } from './http-util';

const MAX_BODY_BYTES = 160 * 1024;
const KEEPALIVE_MS = 15_000;

/** Server-sent events; headers go out with the first event, so a refusal before it is plain JSON. */
function sseSink(res: ServerResponse) {
  let keepalive: NodeJS.Timeout | undefined;
  const state = { started: false };
  const send = (event: string, data: unknown) => {
    if (!state.started) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store, no-transform', 'x-accel-buffering': 'no' });
      state.started = true;
      keepalive = setInterval(() => res.writableEnded || res.destroyed || res.write(': keep-alive\n\n'), KEEPALIVE_MS);
    }
    if (!res.writableEnded && !res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const sink: ArenaSink & { error(d: { message: string; status: number }): void } = {
    meta: (d) => send('meta', d),
    delta: (d) => send('delta', d),
    sideDone: (d) => send('side-done', d),
    end: (d) => send('end', d),
    error: (d) => send('error', d),
  };
  return {
    sink,
    state,
    close() {
      clearInterval(keepalive);
      if (!res.writableEnded) res.end();
    },
  };
}

/**
 * POST /api/arena: one blind round, both answers streamed as `delta` events tagged "a" or "b", then
 * `end` with the battle id to vote on. Audited as arena.start (never with the prompt or the names).
 */
export async function handleArena(deps: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    return sendError(res, new DomainError('BAD_REQUEST', 'Use POST for /api/arena', 405), 'arena');
  }
  const address = clientAddress(req);
  let user: SessionUser | null = null;
  const audit = (outcome: AuditOutcome, detail: Record<string, unknown>, target?: string) =>
    writeAudit(deps.db, { actorUserId: user?.id, actorLabel: user?.email, action: 'arena.start', target, clientAddress: address, outcome, detail });

  const aborter = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) aborter.abort();
  });
  const sse = sseSink(res);
  try {
    user = await getSessionUser(deps.db, req);
    const refusal = crossSiteRefusal(req);
    if (refusal) throw refusal;
    if (!user) throw new DomainError('UNAUTHORIZED', 'Sign in first');
    const request = parseArenaRequest(await readJsonBody(req, MAX_BODY_BYTES));
    const result = await runBattle({ ...deps, dailyCap: deps.env.ENCLAVE_ARENA_DAILY_VOTES }, user, request, sse.sink, aborter.signal);
    await audit('success', { battleId: result.battleId, excluded: result.excluded }, result.conversationId);
  } catch (e) {
    const domain = e instanceof DomainError ? e : undefined;
    const stoppedBeforeStart = aborter.signal.aborted && !domain;
    await audit(domain && (domain.status === 401 || domain.status === 403) ? 'denied' : 'failure', {
      error: domain?.code ?? (stoppedBeforeStart ? 'CLIENT_CLOSED' : 'INTERNAL'),
    }).catch((auditError) => log.error('audit write failed', { error: errorMessage(auditError) }));
    if (stoppedBeforeStart) return;
    if (!sse.state.started) return sendError(res, e, 'arena');
    if (!domain) log.error('arena round failed', { error: errorMessage(e) });
    sse.sink.error({ message: domain?.message ?? 'Internal error', status: domain?.status ?? 500 });
  } finally {
    sse.close();
  }
}
