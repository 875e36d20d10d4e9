import type { IncomingMessage, ServerResponse } from 'node:http';
import { DomainError } from '../core/errors';
import { drainRequest } from '../http/request-body';
import type { ApiDeps } from './context';
import { sendError } from './http-util';

/** What a raw route's handler gets: the request, its path parameters (decoded) and its query. */
export interface RouteCall {
  deps: ApiDeps;
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  url: URL;
}

/**
 * A route where HTTP itself is the interface (a file going up or down, the agents' API): everything
 * else is a tRPC procedure. `path` is literal segments and `:name` parameters.
 */
export interface RawRoute {
  method: 'GET' | 'POST';
  path: string;
  handle(call: RouteCall): Promise<void>;
}

/** The parameters of `pathname` under `pattern`, or null when it does not match. */
function matchPath(pattern: string, pathname: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = pathname.replace(/\/$/, '').split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (const [i, segment] of want.entries()) {
    if (segment.startsWith(':')) {
      try {
        params[segment.slice(1)] = decodeURIComponent(got[i]!);
      } catch {
        // A malformed escape is simply a value that names nothing (404 from the handler).
        params[segment.slice(1)] = '';
      }
    } else if (segment !== got[i]) return null;
  }
  return params;
}

/**
 * Dispatches a request to the first route whose path matches: a path known under other methods is a
 * 405 naming them; a handler's DomainError becomes its JSON answer. Resolves false when no path
 * matches, so the caller can answer (404).
 */
export function routeTable(routes: readonly RawRoute[]) {
  return async (deps: ApiDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    const matching = routes.flatMap((route) => {
      const params = matchPath(route.path, url.pathname);
      return params ? [{ route, params }] : [];
    });
    if (matching.length === 0) return false;
    const found = matching.find((m) => m.route.method === req.method);
    try {
      if (!found) {
        const allowed = [...new Set(matching.map((m) => m.route.method))].join(', ');
        res.setHeader('allow', allowed);
        drainRequest(req);
        throw new DomainError('BAD_REQUEST', `Use ${allowed} for ${url.pathname}`, 405);
      }
      await found.route.handle({ deps, req, res, params: found.params, url });
    } catch (e) {
      sendError(res, e, found?.route.path ?? url.pathname);
    }
    return true;
  };
}
