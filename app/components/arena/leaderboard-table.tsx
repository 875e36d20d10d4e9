'use client';

import { useI18n } from '../../i18n/provider';
import type { RouterOutputs } from '../../lib/trpc';

type Row = RouterOutputs['arena']['leaderboard']['rows'][number];

/** Each row's interval as a small bar on one shared scale, so widths and overlaps compare by eye. */
function IntervalBar({ row, min, max }: { row: Row; min: number; max: number }) {
  const span = Math.max(1, max - min);
  const pct = (v: number) => `${((v - min) / span) * 100}%`;
  return (
    <span className="leaderboard-bar" aria-hidden>
      <span className="leaderboard-bar-range" style={{ left: pct(row.low), width: `calc(${pct(row.high)} - ${pct(row.low)})` }} />
      <span className="leaderboard-bar-point" style={{ left: pct(row.rating) }} />
    </span>
  );
}

export function LeaderboardTable({ rows }: { rows: Row[] }) {
  const { t } = useI18n();
  const min = Math.min(...rows.map((r) => r.low));
  const max = Math.max(...rows.map((r) => r.high));
  const round = (v: number) => Math.round(v);
  return (
    <div className="table-wrap">
      <table className="table leaderboard-table" data-testid="leaderboard-table">
        <thead>
          <tr>
            <th>{t('leaderboard.rank')}</th>
            <th>{t('leaderboard.model')}</th>
            <th className="num">{t('leaderboard.rating')}</th>
            <th>{t('leaderboard.interval')}</th>
            <th className="num">{t('leaderboard.votes')}</th>
            <th className="num">{t('leaderboard.record')}</th>
            <th className="num">{t('leaderboard.elo')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.model} data-testid="leaderboard-row" data-model={r.model} data-votes={r.votes}>
              <td>{r.rank}</td>
              <td>
                <strong>{r.model}</strong>
                {r.provisional && <span className="badge leaderboard-provisional">{t('leaderboard.provisional')}</span>}
              </td>
              <td className="num">{round(r.rating)}</td>
              <td className="nowrap">
                <span className="leaderboard-interval">
                  <IntervalBar row={r} min={min} max={max} />
                  <span className="muted">
                    +{round(r.high - r.rating)} / −{round(r.rating - r.low)}
                  </span>
                </span>
              </td>
              <td className="num" data-testid="leaderboard-votes">
                {r.votes}
              </td>
              <td className="num nowrap">
                {r.wins} / {r.ties} / {r.losses}
              </td>
              <td className="num">{round(r.elo)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
