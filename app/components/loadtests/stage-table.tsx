'use client';

import { LineChart } from '../charts/line-chart';
import { useI18n } from '../../i18n/provider';
import { ms, num, type SummaryView } from './views';

type Stage = NonNullable<SummaryView['stages']>[number];

/** A sweep's stages: offered load against latency, with where the objectives broke. */
export function StageTable({ stages }: { stages: Stage[] }) {
  const { t } = useI18n();
  const points = (pick: (s: SummaryView) => number | undefined) =>
    stages.filter((s) => pick(s.summary) !== undefined).map((s) => ({ x: s.summary.requestThroughput, y: pick(s.summary)! }));
  return (
    <div className="card" style={{ padding: '12px 14px', marginBottom: 16 }}>
      <LineChart
        label={t('loadtests.sweepChart')}
        xKind="number"
        formatX={(x) => `${x.toFixed(1)} /s`}
        formatY={(y) => ms(y)}
        height={200}
        testId="loadtest-sweep-chart"
        series={[
          { name: 'TTFT p50', points: points((s) => s.ttftMs?.median) },
          { name: 'TTFT p99', points: points((s) => s.ttftMs?.p99), dashed: true },
          { name: 'E2E p50', points: points((s) => s.e2eMs?.median) },
        ]}
      />
      <table className="table lt-table" data-testid="loadtest-stages">
        <thead>
          <tr>
            <th>{t('loadtests.stage')}</th>
            <th className="num">{t('loadtests.offered')}</th>
            <th className="num">{t('loadtests.requestThroughput')}</th>
            <th className="num">TTFT p50</th>
            <th className="num">TTFT p99</th>
            <th className="num">TPOT p50</th>
            <th className="num">{t('loadtests.goodput')}</th>
            <th>{t('loadtests.objectives')}</th>
          </tr>
        </thead>
        <tbody>
          {stages.map((s) => (
            <tr key={s.stage}>
              <td>{t(`loadtests.stage.${s.kind as 'run'}`)}</td>
              <td className="num">{s.rate !== null ? `${num(s.rate)} /s` : `c=${s.concurrency}`}</td>
              <td className="num">{num(s.summary.requestThroughput)} /s</td>
              <td className="num">{ms(s.summary.ttftMs?.median)}</td>
              <td className="num">{ms(s.summary.ttftMs?.p99)}</td>
              <td className="num">{ms(s.summary.tpotMs?.median)}</td>
              <td className="num">{s.summary.goodput === null ? '—' : `${num(s.summary.goodput)} /s`}</td>
              <td>{s.met === null ? '—' : s.met ? '✓' : `✗ ${t('loadtests.broke')}`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
