import { z } from 'zod';
import { BATTLE_WINNERS } from '../../db/schema';
import { Battles } from '../../evaluation/arena/battles';
import { loadLeaderboard } from '../../evaluation/arena/leaderboard';
import { authedProcedure, router } from '../trpc';

// A malformed id is simply "not found", like someone else's battle.
const battleId = z.string().max(100);

/** Rounds start over SSE (POST /api/arena); voting and reading here. Every signed-in role may take part. */
export const arenaRouter = router({
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
