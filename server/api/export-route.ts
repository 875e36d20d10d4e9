import { Conversations } from '../chat/conversations';
import { conversationToJson, conversationToMarkdown, exportFileName } from '../chat/export';
import { Messages } from '../chat/messages';
import { DomainError } from '../core/errors';
import { writeAudit } from '../security/audit';
import { clientAddress } from '../security/client-address';
import { getSessionUser } from '../security/sessions';
import type { RawRoute } from './route-table';

/** A download: GET /api/conversations/:id/export?format=json|md, for the owner only (anyone else: 404). */
export const conversationExportRoute: RawRoute = {
  method: 'GET',
  path: '/api/conversations/:id/export',
  async handle({ deps, req, res, params, url }) {
    const id = params.id!;
    const format = url.searchParams.get('format');
    const user = await getSessionUser(deps.db, req);
    if (!user) throw new DomainError('UNAUTHORIZED', 'Sign in first');
    if (format !== 'json' && format !== 'md') throw new DomainError('BAD_REQUEST', 'format must be json or md');
    const conversations = new Conversations(deps.db, deps.masterKey, user.id);
    const row = await conversations.require(id);
    const exported = {
      id: row.id,
      title: await conversations.title(row),
      model: row.model,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      messages: await new Messages(deps.db, deps.masterKey, user.id).list(row.id),
    };
    const body = format === 'json' ? conversationToJson(exported) : conversationToMarkdown(exported);
    // An export is on record (the owner's own conversation; what leaves the system, not its content).
    await writeAudit(deps.db, { actorUserId: user.id, actorLabel: user.email, action: 'conversations.export', target: id, clientAddress: clientAddress(req), outcome: 'success', detail: { format, messages: exported.messages.length } });
    const name = exportFileName(exported, format);
    res.writeHead(200, {
      'content-type': format === 'json' ? 'application/json; charset=utf-8' : 'text/markdown; charset=utf-8',
      'content-disposition': `attachment; filename="${name.replace(/[^\x20-\x7e]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
      'cache-control': 'no-store',
    });
    res.end(body);
  },
};
