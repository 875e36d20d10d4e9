'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { IntervalChart } from '../components/charts/interval-chart';
import { LeaderboardTable } from '../components/arena/leaderboard-table';
import { useI18n } from '../i18n/provider';
import { readableError } from '../lib/errors';
import { useTRPC } from '../lib/trpc';
import '../components/arena/arena.css';

const REFRESH_MS = 10_000;

export default function LeaderboardPage() {
  const { t } = useI18n();
  const trpc = useTRPC();
  const { data: board, error } = useQuery(trpc.arena.leaderboard.queryOptions(undefined, { refetchInterval: REFRESH_MS }));
  const rating = (v: number) => Math.round(v).toString();

  return (
    <div className="manage-page" data-testid="leaderboard">
      <div className="leaderboard-head">
        <div>
          <h1>{t('leaderboard.title')}</h1>
          <p className="muted">{t('leaderboard.subtitle', { resamples: board?.resamples ?? 200 })}</p>
        </div>
        <span className="spacer" />
        <Link href="/arena" className="button button-primary" data-testid="leaderboard-play">
          ⚔ {t('leaderboard.play')}
        </Link>
      </div>
      {error !== null && !board && <p className="form-error">{readableError(error, t)}</p>}
      {!board && error === null && <p className="muted">{t('common.loading')}</p>}
      {board && board.rows.length === 0 && <p className="muted" data-testid="leaderboard-empty">{t('leaderboard.empty')}</p>}
      {board && board.rows.length > 0 && (
        <>
          <p className="muted leaderboard-counts" data-testid="leaderboard-counts">
            {t('leaderboard.counted', { counted: board.countedVotes })}
            {board.excludedVotes > 0 && ` · ${t('leaderboard.excluded', { excluded: board.excludedVotes })}`}
          </p>
          <div className="card leaderboard-chart">
            <h2 className="leaderboard-chart-title">{t('leaderboard.chart')}</h2>
            <IntervalChart label={t('leaderboard.chart')} rows={board.rows.map((r) => ({ label: r.model, value: r.rating, low: r.low, high: r.high, note: r.provisional ? '*' : undefined }))} formatValue={rating} testId="leaderboard-intervals" />
          </div>
          <LeaderboardTable rows={board.rows} />
          <p className="muted leaderboard-note">
            {board.rows.some((r) => r.provisional) && <>* {t('leaderboard.provisionalNote', { votes: board.provisionalBelow })} </>}
            {t('leaderboard.rankNote')}
          </p>
        </>
      )}
    </div>
  );
}
