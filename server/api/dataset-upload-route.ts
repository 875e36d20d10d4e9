import { z } from 'zod';
import { DATASET_FORMATS } from '../db/schema';
import { ingestDataset } from '../lifecycle/datasets/ingest';
import { artifactStore } from '../artifacts';
import { errorMessage, log } from '../core/log';
import { extendBodyDeadline } from '../http/hardening';
import { drainRequest } from '../http/request-body';
import { type AuditOutcome } from '../security/audit';
import { auditRefusal } from '../security/denial-audit';
import { describeInputProblem, findInputProblem } from '../core/json-input';
import { clientAddress } from '../security/client-address';
import { crossSiteRefusal } from '../security/csrf';
import { DomainError } from '../core/errors';
import { getSessionUser, type SessionUser } from '../security/sessions';
import { sendError, sendJson } from './http-util';
import type { RawRoute, RouteCall } from './route-table';

/** JSON Lines media types. None is one a cross-site form may send without a CORS preflight (Enclave grants none). */
const JSONL_TYPES = new Set(['application/x-ndjson', 'application/jsonl', 'application/json-lines']);

const paramsSchema = z.object({
  name: z.string().trim().min(1, 'give the dataset a name').max(200),
  format: z.enum(['auto', ...DATASET_FORMATS]).default('auto'),
  heldOut: z.coerce.number().gt(0).lt(1).default(0.1),
  seed: z.coerce.number().int().min(0).max(0xffffffff).optional(),
  tokenizerVersionId: z.string().min(1).optional(),
});

function parseParams(url: URL) {
  const raw = Object.fromEntries([...url.searchParams.entries()].filter(([, v]) => v !== ''));
  const problem = findInputProblem(raw);
  if (problem) throw new DomainError('BAD_REQUEST', describeInputProblem(problem, 'The query'));
  const parsed = paramsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DomainError('BAD_REQUEST', `${issue.path.join('.') || 'query'}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * An upload: POST /api/datasets?name=&format=auto|openai|alpaca|sharegpt&heldOut=0.1&seed=N&tokenizerVersionId=
 * with the JSONL file as the body, streamed (see server/lifecycle/datasets/ingest.ts), never held whole in
 * memory as a tRPC input would be. Engineers and admins only; audited as datasets.upload. An invalid
 * file answers 400 with its bad lines and leaves nothing behind.
 */
export const datasetUploadRoute: RawRoute = { method: 'POST', path: '/api/datasets', handle: ({ deps, req, res, url }) => upload(deps, req, res, url) };

async function upload(deps: RouteCall['deps'], req: RouteCall['req'], res: RouteCall['res'], url: URL): Promise<void> {
  let user: SessionUser | null = null;
  let target: string | undefined;
  const detail: Record<string, unknown> = {};
  // Refusals of anonymous callers are counted and sampled (see denial-audit.ts); everyone else's are rows.
  const audit = (outcome: AuditOutcome, extra: Record<string, unknown> = {}) =>
    auditRefusal(deps.db, {
      actorUserId: user?.id,
      actorLabel: user?.email,
      action: 'datasets.upload',
      target,
      clientAddress: clientAddress(req),
      outcome,
      detail: { ...detail, ...extra },
      reason: String(extra.error ?? outcome),
    }).catch((e) => log.error('audit write failed', { error: errorMessage(e) }));
  try {
    user = await getSessionUser(deps.db, req);
    if (!user) throw new DomainError('UNAUTHORIZED', 'Sign in first');
    if (user.role !== 'admin' && user.role !== 'engineer') throw new DomainError('FORBIDDEN', 'Uploading datasets needs the role admin or engineer');
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!JSONL_TYPES.has(type)) throw new DomainError('FORBIDDEN', 'Send the file as application/x-ndjson (JSON Lines)');
    // The Origin and Sec-Fetch-Site checks are the same as for every other change; only the body type differs.
    const refusal = crossSiteRefusal({ headers: { ...req.headers, 'content-type': 'application/json' }, socket: req.socket }, deps.env);
    if (refusal) throw refusal;
    const params = parseParams(url);
    Object.assign(detail, { name: params.name, format: params.format, heldOut: params.heldOut });
    const maxBytes = deps.env.ENCLAVE_DATASET_MAX_BYTES;
    // A file of up to maxBytes may take far longer to arrive than a chat turn's body.
    extendBodyDeadline(req, deps.env.ENCLAVE_UPLOAD_TIMEOUT_MS);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) throw new DomainError('PAYLOAD_TOO_LARGE', `The file is larger than the limit of ${maxBytes} bytes`);

    const result = await ingestDataset(deps.db, deps.masterKey, artifactStore(deps.env, deps.db, deps.masterKey), req, {
      ownerId: user.id,
      name: params.name,
      format: params.format === 'auto' ? undefined : params.format,
      heldOutFraction: params.heldOut,
      seed: params.seed,
      tokenizerVersionId: params.tokenizerVersionId,
      maxBytes,
    });
    if (!result.ok) {
      await audit('failure', { error: 'INVALID_DATASET', badLines: result.errorCount });
      sendJson(res, 400, {
        error: { message: result.message, code: 'BAD_REQUEST', status: 400 },
        lines: result.lines,
        errorCount: result.errorCount,
        truncated: result.truncated,
      });
      return;
    }
    target = result.dataset.id;
    await audit('success', { rows: result.dataset.rows, bytes: result.dataset.sizeBytes, sha256: result.dataset.sha256 });
    sendJson(res, 201, { dataset: result.dataset });
  } catch (e) {
    const domain = e instanceof DomainError ? e : undefined;
    // The uploader hung up (closed the tab, cancelled): not a server fault, and nobody is left to answer.
    const clientClosed = !domain && (req.destroyed || res.destroyed) && !req.complete;
    await audit(domain && (domain.status === 401 || domain.status === 403) ? 'denied' : 'failure', { error: domain?.code ?? (clientClosed ? 'CLIENT_CLOSED' : 'INTERNAL') });
    if (clientClosed) return;
    // The client gets to read the refusal; past the drain limit the connection is cut (see drainRequest).
    drainRequest(req);
    sendError(res, e, 'dataset upload');
  }
}
