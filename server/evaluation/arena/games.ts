import type { BATTLE_WINNERS } from '../../db/schema';

export type Winner = (typeof BATTLE_WINNERS)[number];

/** One counted comparison: the score is A's (1 win, 0 loss, 0.5 tie). */
export interface Game {
  a: string;
  b: string;
  scoreA: number;
}

/**
 * A vote as a game. "Both bad" counts as a tie, as in LMSYS's Chatbot Arena ratings: neither answer
 * was preferred, which is exactly what a tie says about the pair's relative strength.
 */
export function gameOf(modelA: string, modelB: string, winner: Winner): Game {
  const scoreA = winner === 'a' ? 1 : winner === 'b' ? 0 : 0.5;
  return { a: modelA, b: modelB, scoreA };
}
