'use client';

import { useI18n } from '../../i18n/provider';
import { num, type SummaryView } from './views';

/** Throughput, goodput, errors and the generator's own timing error, as big numbers. */
export function StatTiles({ summary }: { summary: SummaryView }) {
  const { t } = useI18n();
  const tiles: [string, string, string?][] = [
    [t('loadtests.requestThroughput'), `${num(summary.requestThroughput)} /s`],
    [t('loadtests.outputThroughput'), `${num(summary.outputTokenThroughput, 1)} tok/s`],
    [t('loadtests.completed'), `${summary.completed}`, t('loadtests.failedN', { n: summary.failed })],
    [t('loadtests.errorRate'), `${num(summary.errorRate * 100, 1)} %`],
    [t('loadtests.peakConcurrency'), `${summary.peakConcurrency}`],
    [t('loadtests.goodput'), summary.goodput === null ? '—' : `${num(summary.goodput)} /s`, summary.goodFraction === null ? t('loadtests.noObjectives') : t('loadtests.goodShare', { pct: num(summary.goodFraction * 100, 1) })],
  ];
  if (summary.timing)
    tiles.push([t('loadtests.timingError'), `${num(summary.timing.loopDelayP99Ms)} ms`, t('loadtests.timingDetail', { shards: summary.timing.shards, max: num(summary.timing.loopDelayMaxMs, 1) })]);
  return (
    <div className="lt-stats" data-testid="loadtest-stats">
      {tiles.map(([label, value, note]) => (
        <div className="card lt-stat" key={label}>
          <small>{label}</small>
          <div className="big-number">{value}</div>
          {note && <small>{note}</small>}
        </div>
      ))}
    </div>
  );
}
