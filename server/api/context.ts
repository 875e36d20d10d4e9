import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Db } from '../db/client';
import type { Env } from '../core/env';
import type { AgentTls } from '../fleet/nodes/node-certificates';
import { setRequestActor } from '../http/access-log';
import { clientAddress } from '../security/client-address';
import { getUserByToken, sessionToken, type SessionUser } from '../security/sessions';
import type { StreamAudit } from './streamed';

/** What the API needs from the web role: handed over once when the handler is created. */
export interface ApiDeps {
  db: Db;
  env: Env;
  masterKey: Buffer;
  gatewayUrl: string;
  /** Set when TLS is configured: the agents' API then requires mutual TLS (server/fleet/nodes/node-certificates.ts). */
  agentTls?: AgentTls;
}

export interface ApiContext extends ApiDeps {
  req: IncomingMessage;
  res: ServerResponse;
  /** The signed-in user, read fresh for every request, so a role change or disable applies at once. */
  user: SessionUser | null;
  sessionToken: string | undefined;
  clientAddress: string;
  /** Set by the guard for a streamed procedure only (see trpc.ts). */
  streamAudit?: StreamAudit;
}

export async function createApiContext(deps: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<ApiContext> {
  const token = sessionToken(req);
  const user = await getUserByToken(deps.db, token);
  // The access log names the user by id (server/http/access-log.ts).
  setRequestActor(req, user && { userId: user.id });
  return { ...deps, req, res, user, sessionToken: token, clientAddress: clientAddress(req) };
}
