import { and, asc, count, isNotNull, max } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { battles } from '../../db/schema';
import { bradleyTerryWithIntervals } from './bradley-terry';
import { onlineElo } from './elo';
import { gameOf, type Game, type Winner } from './games';

export const BOOTSTRAP_RESAMPLES = 200;
/**
 * Below this many counted votes a model's row is marked provisional (as LMSYS marks new models): a
 * bootstrap over a handful of unanimous votes gives a narrow interval that says more about the
 * resampling than about the model.
 */
export const PROVISIONAL_VOTES = 20;
const BOOTSTRAP_SEED = 20240501;

export interface LeaderboardRow {
  rank: number;
  model: string;
  rating: number;
  low: number;
  high: number;
  elo: number;
  votes: number;
  wins: number;
  losses: number;
  ties: number;
  provisional: boolean;
}

export interface Leaderboard {
  rows: LeaderboardRow[];
  countedVotes: number;
  excludedVotes: number;
  resamples: number;
  provisionalBelow: number;
}

interface Vote {
  modelA: string;
  modelB: string;
  winner: Winner;
}

/**
 * Ratings from the counted votes (voted, not excluded), oldest first so the Elo view runs in the
 * order people voted. Rank is LMSYS's: 1 + the number of models whose interval lies wholly above.
 */
export function buildLeaderboard(votes: Vote[], excludedVotes: number, resamples = BOOTSTRAP_RESAMPLES): Leaderboard {
  const games: Game[] = votes.map((v) => gameOf(v.modelA, v.modelB, v.winner));
  const names = [...new Set(votes.flatMap((v) => [v.modelA, v.modelB]))].sort();
  const ratings = bradleyTerryWithIntervals(names, games, { resamples, seed: BOOTSTRAP_SEED });
  const elo = onlineElo(games);
  const tally = new Map(names.map((m) => [m, { votes: 0, wins: 0, losses: 0, ties: 0 }]));
  for (const v of votes) {
    const a = tally.get(v.modelA)!;
    const b = tally.get(v.modelB)!;
    a.votes++;
    b.votes++;
    if (v.winner === 'a') (a.wins++, b.losses++);
    else if (v.winner === 'b') (b.wins++, a.losses++);
    else (a.ties++, b.ties++);
  }
  const rows = names.map((model) => ({ model, ...ratings.get(model)!, elo: elo.get(model)!, ...tally.get(model)!, provisional: tally.get(model)!.votes < PROVISIONAL_VOTES, rank: 0 }));
  for (const row of rows) row.rank = 1 + rows.filter((other) => other.low > row.high).length;
  rows.sort((x, y) => y.rating - x.rating || x.model.localeCompare(y.model));
  return { rows, countedVotes: votes.length, excludedVotes, resamples, provisionalBelow: PROVISIONAL_VOTES };
}

let cached: { key: string; board: Leaderboard } | undefined;

/**
 * The leaderboard as of now. Refitting 200 bootstrap samples on every page view is wasted work when
 * nobody voted in between, so the last result is kept until the vote count or the latest vote changes.
 */
export async function loadLeaderboard(db: Db): Promise<Leaderboard> {
  const voted = and(isNotNull(battles.winner), isNotNull(battles.votedAt));
  const [state] = await db.select({ n: count(), latest: max(battles.votedAt) }).from(battles).where(voted);
  const key = `${state!.n}:${state!.latest?.toISOString() ?? ''}`;
  if (cached?.key === key) return cached.board;
  const rows = await db
    .select({ modelA: battles.modelA, modelB: battles.modelB, winner: battles.winner, excluded: battles.excluded })
    .from(battles)
    .where(voted)
    .orderBy(asc(battles.votedAt), asc(battles.id));
  const counted = rows.filter((r) => !r.excluded).map((r) => ({ modelA: r.modelA, modelB: r.modelB, winner: r.winner! }));
  const board = buildLeaderboard(counted, rows.length - counted.length);
  cached = { key, board };
  return board;
}
