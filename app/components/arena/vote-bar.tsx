'use client';

import { useI18n } from '../../i18n/provider';
import type { Winner } from './use-arena-round';

const CHOICES: { winner: Winner; key: 'arena.voteA' | 'arena.voteB' | 'arena.voteTie' | 'arena.voteBothBad' }[] = [
  { winner: 'a', key: 'arena.voteA' },
  { winner: 'tie', key: 'arena.voteTie' },
  { winner: 'both_bad', key: 'arena.voteBothBad' },
  { winner: 'b', key: 'arena.voteB' },
];

export function voteLabelKey(winner: Winner) {
  return CHOICES.find((c) => c.winner === winner)!.key;
}

/** The four votes; disabled until both answers are stored (the battle id has arrived). */
export function VoteBar({ enabled, busy, onVote }: { enabled: boolean; busy: boolean; onVote(winner: Winner): void }) {
  const { t } = useI18n();
  return (
    <div className="arena-vote" role="group" aria-label={t('arena.whichIsBetter')}>
      <span className="arena-vote-question">{enabled ? t('arena.whichIsBetter') : t('arena.waitForBoth')}</span>
      <div className="arena-vote-buttons">
        {CHOICES.map((c) => (
          <button key={c.winner} type="button" className="button" disabled={!enabled || busy} onClick={() => onVote(c.winner)} data-testid={`vote-${c.winner}`}>
            {t(c.key)}
          </button>
        ))}
      </div>
    </div>
  );
}
