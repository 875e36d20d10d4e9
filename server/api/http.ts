import type { IncomingMessage, ServerResponse } from 'node:http';
import { nodeHTTPRequestHandler } from '@trpc/server/adapters/node-http';
import { agentRoutes } from './agent-http';
import { createApiContext, type ApiDeps } from './context';
import { datasetUploadRoute } from './dataset-upload-route';
import { knowledgeUploadRoute } from './knowledge-upload-route';
import { conversationExportRoute } from './export-route';
import { auditExportRoute } from './audit-export-route';
import { loadTestExportRoute } from './loadtest-export-route';
import { oidcRoutes } from './oidc-routes';
import { routeTable } from './route-table';
import { appRouter } from './router';
import { bodyLimitOf } from './trpc';
import { BodyTooLarge, drainRequest, readRequestBody } from '../http/request-body';
import { clientAddress } from '../security/client-address';
import { crossSiteRefusal } from '../security/csrf';
import { auditRefusal } from '../security/denial-audit';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from '../core/json-input';
import { getSessionUser } from '../security/sessions';

const TRPC_PREFIX = '/api/trpc/';
const TRPC_MAX_BODY_BYTES = 1024 * 1024;

/**
 * The /api routes outside tRPC: only where HTTP itself is the interface. Downloads (a file the browser
 * saves), the dataset upload (a file streamed to disk, never held as one input), and the agents' API
 * (machines with a Bearer credential), and OIDC sign-in's two browser redirects. Everything a page calls otherwise is a tRPC procedure.
 */
const rawRoutes = routeTable([conversationExportRoute, loadTestExportRoute, datasetUploadRoute, knowledgeUploadRoute, auditExportRoute, ...agentRoutes, ...oidcRoutes]);

/**
 * Enclave's own /api routes as a plain node:http handler the web server mounts: tRPC under /api/trpc,
 * then the raw routes. Resolves false for a path that is neither, so the caller can answer it (health, 404).
 */
export function createApiHandler(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const pathname = url.pathname;
    if (pathname.startsWith(TRPC_PREFIX)) {
      const path = pathname.slice(TRPC_PREFIX.length);
      res.setHeader('cache-control', 'no-store');
      // Some answers stream (chat, arena, job events): a proxy must pass them on as they come.
      res.setHeader('x-accel-buffering', 'no');
      if (req.method === 'POST') {
        // Checked before tRPC reads the body: it answers some non-JSON bodies itself (415), and every
        // refused cross-site call must be a 403 with an audit row. The procedure middleware checks again.
        if (await refuseCrossSite(deps, req, res, path)) return true;
        const body = await readTrpcBody(req, res, path);
        if (body === null) return true;
        // tRPC takes a body already read from req.body (it would otherwise read the stream itself).
        (req as IncomingMessage & { body?: string }).body = body;
      }
      await nodeHTTPRequestHandler({
        router: appRouter,
        req,
        res,
        path,
        maxBodySize: TRPC_MAX_BODY_BYTES,
        createContext: ({ req, res }) => createApiContext(deps, req as IncomingMessage, res as ServerResponse),
      });
      return true;
    }
    return rawRoutes(deps, req, res, url);
  };
}

function sendTrpcError(res: ServerResponse, status: number, code: string, rpcCode: number, message: string, path: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ error: { message, code: rpcCode, data: { code, httpStatus: status, path } } }));
}

/**
 * The body of a tRPC POST, read here so that an oversized one is answered 413 and drained (the client
 * then reads the answer instead of an EPIPE) and one nested past any sane depth is refused before
 * anything walks it. The cap is the smallest of what the batch calls (a chat turn's is 160 KiB). null
 * when the request has been answered.
 */
async function readTrpcBody(req: IncomingMessage, res: ServerResponse, path: string): Promise<string | null> {
  const limit = Math.min(TRPC_MAX_BODY_BYTES, ...path.split(',').map((p) => bodyLimitOf(p) ?? TRPC_MAX_BODY_BYTES));
  let raw: Buffer;
  try {
    raw = await readRequestBody(req, limit);
  } catch (e) {
    if (!(e instanceof BodyTooLarge)) throw e;
    sendTrpcError(res, 413, 'PAYLOAD_TOO_LARGE', -32013, `The request body must be at most ${limit} bytes`, path);
    return null;
  }
  if (exceedsJsonDepth(raw)) {
    sendTrpcError(res, 400, 'BAD_REQUEST', -32600, `The input nests deeper than ${MAX_JSON_DEPTH} levels`, path);
    return null;
  }
  return raw.toString('utf8');
}

/** Answers 403 in tRPC's error shape, and audits the refusal (once per request, sampled when anonymous), when a POST looks cross-site. */
async function refuseCrossSite(deps: ApiDeps, req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
  const refusal = crossSiteRefusal(req, deps.env);
  if (!refusal) return false;
  const user = await getSessionUser(deps.db, req);
  await auditRefusal(deps.db, {
    actorUserId: user?.id,
    actorLabel: user?.email,
    // One row for a batch of procedures, not one each: the batch is one request.
    action: path.includes(',') ? 'api.batch' : path.slice(0, 100),
    clientAddress: clientAddress(req),
    outcome: 'denied',
    detail: { error: 'CROSS_SITE' },
    reason: 'CROSS_SITE',
  });
  drainRequest(req);
  sendTrpcError(res, 403, 'FORBIDDEN', -32003, refusal.message, path);
  return true;
}
