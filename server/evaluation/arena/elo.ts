import type { Game } from './games';
import { RATING_ANCHOR, RATING_SCALE } from './bradley-terry';

/** LMSYS's online Elo used K=4: small steps, so the order of votes matters little. */
export const ELO_K = 4;

/** The running Elo view: every model starts at the anchor; games are applied in the order given. */
export function onlineElo(games: Game[], k = ELO_K): Map<string, number> {
  const ratings = new Map<string, number>();
  for (const g of games) {
    const ra = ratings.get(g.a) ?? RATING_ANCHOR;
    const rb = ratings.get(g.b) ?? RATING_ANCHOR;
    const expectedA = 1 / (1 + 10 ** ((rb - ra) / RATING_SCALE));
    ratings.set(g.a, ra + k * (g.scoreA - expectedA));
    ratings.set(g.b, rb + k * (1 - g.scoreA - (1 - expectedA)));
  }
  return ratings;
}
