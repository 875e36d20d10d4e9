import type { IncomingMessage, ServerResponse } from 'node:http';
import { nodeHTTPRequestHandler } from '@trpc/server/adapters/node-http';
import { handleAgentApi } from './agent-http';
import { handleArena } from './arena-route';
import { handleChat } from './chat-route';
import { createApiContext, type ApiDeps } from './context';
import { handleExport } from './export-route';
import { handleDatasetUpload } from './dataset-upload-route';
import { handleLoadTestExport } from './loadtest-export-route';
import { handleJobEvents } from './job-events-route';
import { appRouter } from './router';
import { writeAudit } from '../security/audit';
import { clientAddress } from '../security/client-address';
import { crossSiteRefusal } from '../security/csrf';
import { getSessionUser } from '../security/sessions';

const TRPC_PREFIX = '/api/trpc/';
const EXPORT_PATH = /^\/api\/conversations\/([^/]+)\/export\/?$/;

/**
 * Enclave's own /api routes as a plain node:http handler the web server mounts. Resolves false for a
 * path that is not one of them, so the caller can answer it (health, 404).
 */
export function createApiHandler(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const pathname = url.pathname;
    if (pathname.startsWith(TRPC_PREFIX)) {
      const path = pathname.slice(TRPC_PREFIX.length);
      // Checked before tRPC reads the body: it answers some non-JSON bodies itself (415), and every
      // refused cross-site call must be a 403 with an audit row. The procedure middleware checks again.
      if (req.method === 'POST' && (await refuseCrossSite(deps, req, res, path))) return true;
      await nodeHTTPRequestHandler({
        router: appRouter,
        req,
        res,
        path,
        maxBodySize: 1024 * 1024,
        createContext: ({ req, res }) => createApiContext(deps, req as IncomingMessage, res as ServerResponse),
      });
      return true;
    }
    if (pathname === '/api/arena') return handleArena(deps, req, res).then(() => true);
    if (pathname === '/api/chat') {
      await handleChat(deps, req, res);
      return true;
    }
    const exportMatch = EXPORT_PATH.exec(pathname);
    if (exportMatch) {
      await handleExport(deps, req, res, decodeSegment(exportMatch[1]!), url.searchParams.get('format'));
      return true;
    }
    if (await handleDatasetUpload(deps, req, res, url)) return true;
    if (await handleLoadTestExport(deps, req, res, url)) return true;
    if (await handleJobEvents(deps, req, res, url)) return true;
    if (await handleAgentApi(deps, req, res)) return true;
    return false;
  };
}

/** A malformed escape is simply an id that matches nothing (404), not an exception. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return '';
  }
}

/** Answers 403 in tRPC's error shape, and audits the refusal, when a POST looks cross-site. */
async function refuseCrossSite(deps: ApiDeps, req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
  const refusal = crossSiteRefusal(req);
  if (!refusal) return false;
  const user = await getSessionUser(deps.db, req);
  for (const action of path.split(',').slice(0, 10))
    await writeAudit(deps.db, {
      actorUserId: user?.id,
      actorLabel: user?.email,
      action,
      clientAddress: clientAddress(req),
      outcome: 'denied',
      detail: { error: 'CROSS_SITE' },
    });
  res.writeHead(403, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message: refusal.message, code: -32003, data: { code: 'FORBIDDEN', httpStatus: 403, path } } }));
  return true;
}
