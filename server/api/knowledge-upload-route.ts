import { errorMessage, log } from '../core/log';
import { DomainError } from '../core/errors';
import { extendBodyDeadline } from '../http/hardening';
import { BodyTooLarge, drainRequest, readRequestBody } from '../http/request-body';
import { KnowledgeBases, MAX_DOCUMENT_BYTES } from '../knowledge/bases';
import { queueOnRedis } from '../knowledge/queue-document';
import type { AuditOutcome } from '../security/audit';
import { clientAddress } from '../security/client-address';
import { crossSiteRefusal } from '../security/csrf';
import { auditRefusal } from '../security/denial-audit';
import { getSessionUser, type SessionUser } from '../security/sessions';
import { sendError, sendJson } from './http-util';
import type { RawRoute, RouteCall } from './route-table';

/**
 * A document for a knowledge base: POST /api/knowledge/:kbId/documents?name=report.pdf with the file as
 * an application/octet-stream body (a type no cross-site form can send; the kind comes from the name).
 * Stored sealed and queued for parsing and embedding; 201 with the document id. Audited as knowledge.upload
 * (the document's name is content and is not written there).
 */
export const knowledgeUploadRoute: RawRoute = { method: 'POST', path: '/api/knowledge/:kbId/documents', handle: (call) => upload(call) };

async function upload({ deps, req, res, params, url }: RouteCall): Promise<void> {
  let user: SessionUser | null = null;
  const audit = (outcome: AuditOutcome, detail: Record<string, unknown>) =>
    auditRefusal(deps.db, { actorUserId: user?.id, actorLabel: user?.email, action: 'knowledge.upload', target: params.kbId, clientAddress: clientAddress(req), outcome, detail, reason: String(detail.error ?? outcome) }).catch((e) =>
      log.error('audit write failed', { error: errorMessage(e) }),
    );
  try {
    user = await getSessionUser(deps.db, req);
    if (!user) throw new DomainError('UNAUTHORIZED', 'Sign in first');
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/octet-stream') throw new DomainError('UNSUPPORTED_MEDIA_TYPE', 'Send the file as application/octet-stream with its name in ?name=');
    const refusal = crossSiteRefusal({ headers: { ...req.headers, 'content-type': 'application/json' }, socket: req.socket }, deps.env);
    if (refusal) throw refusal;
    const name = url.searchParams.get('name') ?? '';
    extendBodyDeadline(req, deps.env.ENCLAVE_UPLOAD_TIMEOUT_MS);
    let bytes: Buffer;
    try {
      bytes = await readRequestBody(req, MAX_DOCUMENT_BYTES);
    } catch (e) {
      if (e instanceof BodyTooLarge) throw new DomainError('PAYLOAD_TOO_LARGE', `The file is larger than the limit of ${MAX_DOCUMENT_BYTES} bytes`);
      throw e;
    }
    const document = await new KnowledgeBases(deps.db, deps.masterKey, user, queueOnRedis).addDocument(params.kbId!, { name, bytes });
    await audit('success', { documentId: document.id, bytes: bytes.length });
    sendJson(res, 201, { document });
  } catch (e) {
    const domain = e instanceof DomainError ? e : undefined;
    await audit(domain && (domain.status === 401 || domain.status === 403) ? 'denied' : 'failure', { error: domain?.code ?? 'INTERNAL' });
    drainRequest(req);
    sendError(res, e, 'knowledge upload');
  }
}
