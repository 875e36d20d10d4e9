import { DomainError } from '../core/errors';
import { setRequestActor } from '../http/access-log';
import { writeAudit } from '../security/audit';
import { AUDIT_EXPORT_FORMATS, exportAudit, type AuditExportFormat } from '../security/audit-export';
import { auditFilterSchema } from '../security/audit-query';
import { clientAddress } from '../security/client-address';
import { getSessionUser } from '../security/sessions';
import type { RawRoute } from './route-table';

/**
 * A download: GET /api/audit/export?format=csv|jsonl&actor=…&action=…&target=…&outcome=…&from=…&to=…,
 * the audit rows the page's filters select, streamed. Admins only; the export is itself audited (who,
 * which filters, how many rows), before the first byte and again with the count before the last.
 */
export const auditExportRoute: RawRoute = {
  method: 'GET',
  path: '/api/audit/export',
  async handle({ deps, req, res, url }) {
    const user = await getSessionUser(deps.db, req);
    if (!user) throw new DomainError('UNAUTHORIZED', 'Sign in first');
    setRequestActor(req, { userId: user.id });
    if (user.role !== 'admin') throw new DomainError('FORBIDDEN', 'Only admins may export the audit log');
    const format = url.searchParams.get('format') ?? 'csv';
    if (!(AUDIT_EXPORT_FORMATS as readonly string[]).includes(format)) throw new DomainError('BAD_REQUEST', 'format: must be csv or jsonl');
    const raw = Object.fromEntries([...url.searchParams].filter(([k, v]) => k !== 'format' && v !== ''));
    const parsed = auditFilterSchema.strict().safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new DomainError('BAD_REQUEST', `${issue.path.join('.') || 'query'}: ${issue.message}`);
    }
    const filter = parsed.data;
    const row = { actorUserId: user.id, actorLabel: user.email, action: 'audit.export', clientAddress: clientAddress(req) };
    await writeAudit(deps.db, { ...row, outcome: 'success', detail: { format, ...filter, started: true } });
    res.writeHead(200, {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      'content-disposition': `attachment; filename="enclave-audit-${new Date().toISOString().slice(0, 10)}.${format}"`,
      'cache-control': 'no-store',
    });
    const write = (chunk: string) =>
      new Promise<void>((resolve, reject) => {
        if (res.destroyed) return reject(new Error('the client went away'));
        if (res.write(chunk)) resolve();
        else res.once('drain', resolve);
      });
    try {
      const rows = await exportAudit(deps.db, filter, format as AuditExportFormat, write);
      // On record before the download completes: whoever holds the whole file can find its audit row.
      await writeAudit(deps.db, { ...row, outcome: 'success', detail: { format, ...filter, rows } });
      res.end();
    } catch (e) {
      res.destroy();
      await writeAudit(deps.db, { ...row, outcome: 'failure', detail: { format, ...filter, error: e instanceof Error ? e.message.slice(0, 200) : 'failed' } });
    }
  },
};
