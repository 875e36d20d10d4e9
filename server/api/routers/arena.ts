import { z } from 'zod';
import { BATTLE_WINNERS } from '../../db/schema';
import { Battles } from '../../evaluation/arena/battles';
import { loadLeaderboard } from '../../evaluation/arena/leaderboard';
import { arenaRequestInput } from '../../evaluation/arena/request';
import { runBattle, type ArenaSink } from '../../evaluation/arena/run-battle';
import { eventQueue, sinkTo, type SinkEvent } from '../event-queue';
import { authedProcedure, router, streamingProcedure } from '../trpc';

// A malformed id is simply "not found", like someone else's battle.
const battleId = z.string().max(100);
const MAX_BODY_BYTES = 160 * 1024;

/** One round's events: meta, both answers' deltas tagged "a" or "b", each side's end, then end with the battle id. */
export type ArenaEvent = SinkEvent<ArenaSink>;

/** Every signed-in role may take part. */
export const arenaRouter = router({
  /**
   * One blind round, streamed (never a model's name until the vote). Aborting the call stops both
   * answers, kept marked stopped. Audited as arena.start: the round writes that row itself with its
   * answers' last write (target: the new conversation; detail: battleId, excluded).
   */
  start: streamingProcedure(MAX_BODY_BYTES)
    .input(arenaRequestInput)
    .mutation(async function* ({ ctx, input, signal }) {
      const { db, masterKey, gatewayUrl, env } = ctx;
      const deps = { db, masterKey, gatewayUrl, dailyCap: env.ENCLAVE_ARENA_DAILY_VOTES, replyLeaseMs: env.ENCLAVE_REPLY_LEASE_MS };
      yield* eventQueue<ArenaEvent>((emit) => runBattle(deps, ctx.user, input, sinkTo<ArenaSink>(emit), signal!, ctx.streamAudit.entry));
    }),

  vote: authedProcedure
    .input(z.object({ battleId, winner: z.enum(BATTLE_WINNERS, { error: `winner must be one of ${BATTLE_WINNERS.join(', ')}` }) }))
    .mutation(({ ctx, input }) => new Battles(ctx.db, ctx.user.id).vote(input.battleId, input.winner, ctx.env.ENCLAVE_ARENA_DAILY_VOTES)),

  leaderboard: authedProcedure.query(({ ctx }) => loadLeaderboard(ctx.db)),

  myBattles: authedProcedure
    .input(z.object({ limit: z.number().int().min(1).max(200).default(50) }).optional())
    .query(async ({ ctx, input }) => {
      const store = new Battles(ctx.db, ctx.user.id);
      return { battles: await store.list(input?.limit ?? 50), votesToday: await store.votesToday(), dailyCap: ctx.env.ENCLAVE_ARENA_DAILY_VOTES };
    }),
});
