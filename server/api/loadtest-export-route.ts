import type { IncomingMessage, ServerResponse } from 'node:http';
import { runToJson, samplesToCsv } from '../evaluation/loadtest/export';
import { requireLoadTest, samplesOf } from '../evaluation/loadtest/store';
import { DomainError } from '../security/errors';
import { getSessionUser } from '../security/sessions';
import type { ApiDeps } from './context';
import { sendError } from './http-util';
import { isUuid } from '../chat/ids';

const PATH = /^\/api\/loadtests\/([^/]+)\/export$/;

/**
 * GET /api/loadtests/<id>/export?format=json|csv: the run with every sample. The owner, engineers and
 * admins may export (the runs they can see); anyone else gets 404 as if it did not exist.
 */
export async function handleLoadTestExport(deps: ApiDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const match = PATH.exec(url.pathname);
  if (!match) return false;
  try {
    if (req.method !== 'GET') throw new DomainError('BAD_REQUEST', 'Use GET to export', 405);
    const user = await getSessionUser(deps.db, req);
    if (!user) throw new DomainError('UNAUTHORIZED', 'Sign in first');
    const format = url.searchParams.get('format') ?? 'json';
    if (format !== 'json' && format !== 'csv') throw new DomainError('BAD_REQUEST', 'format must be json or csv');
    const id = decodeURIComponent(match[1]!);
    if (!isUuid(id)) throw new DomainError('NOT_FOUND', 'No such load test');
    const run = await requireLoadTest(deps.db, user, id);
    if (run.ownerId !== user.id && user.role !== 'engineer' && user.role !== 'admin') throw new DomainError('NOT_FOUND', 'No such load test');
    const rows = await samplesOf(deps.db, id);
    const name = `loadtest-${run.name.replace(/[^a-zA-Z0-9._-]+/g, '_').slice(0, 60)}-${id.slice(0, 8)}.${format}`;
    res.writeHead(200, {
      'content-type': format === 'json' ? 'application/json; charset=utf-8' : 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${name}"`,
      'cache-control': 'no-store',
    });
    res.end(format === 'json' ? runToJson(run, rows) : samplesToCsv(rows));
  } catch (e) {
    sendError(res, e, 'loadtest export');
  }
  return true;
}
