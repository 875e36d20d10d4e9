import type { IncomingMessage, ServerResponse } from 'node:http';
import { Conversations } from '../chat/conversations';
import { conversationToJson, conversationToMarkdown, exportFileName } from '../chat/export';
import { Messages } from '../chat/messages';
import { DomainError } from '../security/errors';
import { getSessionUser } from '../security/sessions';
import type { ApiDeps } from './context';
import { sendError } from './http-util';

/** GET /api/conversations/:id/export?format=json|md, for the owner only (anyone else: 404). */
export async function handleExport(deps: ApiDeps, req: IncomingMessage, res: ServerResponse, id: string, format: string | null): Promise<void> {
  try {
    if (req.method !== 'GET') throw new DomainError('BAD_REQUEST', 'Use GET to export', 405);
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
    const name = exportFileName(exported, format);
    res.writeHead(200, {
      'content-type': format === 'json' ? 'application/json; charset=utf-8' : 'text/markdown; charset=utf-8',
      'content-disposition': `attachment; filename="${name.replace(/[^\x20-\x7e]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
      'cache-control': 'no-store',
    });
    res.end(body);
  } catch (e) {
    sendError(res, e, 'export');
  }
}
