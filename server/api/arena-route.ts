import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseArenaRequest } from '../evaluation/arena/request';
import { runBattle } from '../evaluation/arena/run-battle';
import type { ApiDeps } from './context';
import { handleStreamingPost } from './streaming-post';

const MAX_BODY_BYTES = 160 * 1024;

/**
 * POST /api/arena: one blind round, both answers streamed as `delta` events tagged "a" or "b", then
 * `end` with the battle id to vote on. Audited as arena.start (never with the prompt or the names).
 */
export function handleArena(deps: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return handleStreamingPost(deps, req, res, {
    path: '/api/arena',
    action: 'arena.start',
    maxBodyBytes: MAX_BODY_BYTES,
    async run({ user, body, events, signal }) {
      const request = parseArenaRequest(body);
      const sink = {
        meta: (d: unknown) => events.send('meta', d),
        delta: (d: unknown) => events.send('delta', d),
        sideDone: (d: unknown) => events.send('side-done', d),
        end: (d: unknown) => events.send('end', d),
      };
      const result = await runBattle({ ...deps, dailyCap: deps.env.ENCLAVE_ARENA_DAILY_VOTES }, user, request, sink, signal);
      return { outcome: 'success', target: result.conversationId, detail: { battleId: result.battleId, excluded: result.excluded } };
    },
  });
}
