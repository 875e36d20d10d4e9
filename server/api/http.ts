import type { IncomingMessage, ServerResponse } from 'node:http';
import { nodeHTTPRequestHandler } from '@trpc/server/adapters/node-http';
import { handleChat } from './chat-route';
import { createApiContext, type ApiDeps } from './context';
import { handleExport } from './export-route';
import { appRouter } from './router';

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
      await nodeHTTPRequestHandler({
        router: appRouter,
        req,
        res,
        path: pathname.slice(TRPC_PREFIX.length),
        maxBodySize: 1024 * 1024,
        createContext: ({ req, res }) => createApiContext(deps, req as IncomingMessage, res as ServerResponse),
      });
      return true;
    }
    if (pathname === '/api/chat') {
      await handleChat(deps, req, res);
      return true;
    }
    const exportMatch = EXPORT_PATH.exec(pathname);
    if (exportMatch) {
      await handleExport(deps, req, res, decodeSegment(exportMatch[1]!), url.searchParams.get('format'));
      return true;
    }
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
