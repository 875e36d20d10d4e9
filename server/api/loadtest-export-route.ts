import { runToJson, samplesToCsv } from '../evaluation/loadtest/export';
import { requireLoadTest, samplesOf } from '../evaluation/loadtest/store';
import { DomainError } from '../core/errors';
import { writeAudit } from '../security/audit';
import { clientAddress } from '../security/client-address';
import { getSessionUser } from '../security/sessions';
import { isUuid } from '../core/ids';
import type { RawRoute } from './route-table';

/**
 * A download: GET /api/loadtests/<id>/export?format=json|csv, the run with every sample. The owner,
 * engineers and admins may export (the runs they can see); anyone else gets 404 as if it did not exist.
 */
export const loadTestExportRoute: RawRoute = {
  method: 'GET',
  path: '/api/loadtests/:id/export',
  async handle({ deps, req, res, params, url }) {
    const user = await getSessionUser(deps.db, req);
    if (!user) throw new DomainError('UNAUTHORIZED', 'Sign in first');
    const format = url.searchParams.get('format') ?? 'json';
    if (format !== 'json' && format !== 'csv') throw new DomainError('BAD_REQUEST', 'format must be json or csv');
    const id = params.id!;
    if (!isUuid(id)) throw new DomainError('NOT_FOUND', 'No such load test');
    const run = await requireLoadTest(deps.db, user, id);
    if (run.ownerId !== user.id && user.role !== 'engineer' && user.role !== 'admin') throw new DomainError('NOT_FOUND', 'No such load test');
    const rows = await samplesOf(deps.db, id);
    // An export is on record; an engineer's or admin's export of someone else's run is a read of their data.
    await writeAudit(deps.db, { actorUserId: user.id, actorLabel: user.email, action: 'loadtests.export', target: id, clientAddress: clientAddress(req), outcome: 'success', detail: { format, samples: rows.length, ownRun: run.ownerId === user.id } });
    const name = `loadtest-${run.name.replace(/[^a-zA-Z0-9._-]+/g, '_').slice(0, 60)}-${id.slice(0, 8)}.${format}`;
    res.writeHead(200, {
      'content-type': format === 'json' ? 'application/json; charset=utf-8' : 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${name}"`,
      'cache-control': 'no-store',
    });
    res.end(format === 'json' ? runToJson(run, rows) : samplesToCsv(rows));
  },
};
