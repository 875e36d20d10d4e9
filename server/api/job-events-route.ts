import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadJob } from '../lifecycle/jobs/access';
import { followJob } from '../lifecycle/jobs/live';
import { DomainError } from '../security/errors';
import { getSessionUser } from '../security/sessions';
import type { ApiDeps } from './context';
import { sendError } from './http-util';
import { isUuid } from '../chat/ids';

const PATH = /^\/api\/jobs\/([^/]+)\/events\/?$/;
const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);
const PING_MS = 15_000;

/**
 * GET /api/jobs/:id/events: server-sent events for one job, fed by the Redis messages the runner
 * publishes on each update (progress, status), so the job page refreshes when something changed instead
 * of on a timer. Visible to whoever may read the job (jobScope); the stream ends when the job does.
 */
export async function handleJobEvents(deps: ApiDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const match = PATH.exec(url.pathname);
  if (!match) return false;
  try {
    if (req.method !== 'GET') throw new DomainError('BAD_REQUEST', 'Use GET to follow a job', 405);
    const user = await getSessionUser(deps.db, req);
    if (!user) throw new DomainError('UNAUTHORIZED', 'Sign in first');
    const id = match[1]!;
    if (!isUuid(id)) throw new DomainError('NOT_FOUND', 'Job not found');
    const job = await loadJob(deps.db, user, id);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.write(`data: ${JSON.stringify({ jobId: job.id, status: job.status })}\n\n`);
    if (FINISHED.has(job.status)) {
      res.end();
      return true;
    }
    let stop: (() => Promise<void>) | undefined;
    const ping = setInterval(() => res.write(': ping\n\n'), PING_MS);
    const end = () => {
      clearInterval(ping);
      void stop?.();
      stop = undefined;
      if (!res.writableEnded) res.end();
    };
    req.on('close', end);
    // Messages are JSON written by publishJobUpdate (figures and status, never dataset content): one line each.
    stop = await followJob(job.id, (message) => {
      res.write(`data: ${message}\n\n`);
      try {
        if (FINISHED.has((JSON.parse(message) as { status?: string }).status ?? '')) end();
      } catch {
        // not JSON: still forwarded, the page just refetches
      }
    });
    if (req.destroyed) end();
  } catch (e) {
    sendError(res, e, 'job events');
  }
  return true;
}
