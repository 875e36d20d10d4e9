'use client';

import { useEffect, useRef, useState } from 'react';
import { LineChart } from '../charts/line-chart';
import { useI18n } from '../../i18n/provider';
import { ms, type ProgressView } from './views';

/** Running percentiles while the run goes: a table of now, and a chart of how they moved. */
export function LiveProgress({ progress }: { progress: ProgressView }) {
  const { t } = useI18n();
  const [history, setHistory] = useState<{ x: number; p50: number; p99: number; rate: number }[]>([]);
  const last = useRef<number | undefined>(undefined);
  useEffect(() => {
    const x = progress.elapsedS;
    if (x === undefined || x === last.current || !progress.ttftMs) return;
    last.current = x;
    setHistory((h) => [...h.slice(-300), { x, p50: progress.ttftMs!.p50, p99: progress.ttftMs!.p99, rate: progress.currentRate ?? 0 }]);
  }, [progress]);
  const rows = [
    ['ttft', progress.ttftMs],
    ['itl', progress.itlMs],
    ['e2e', progress.e2eMs],
  ] as const;
  return (
    <>
      <table className="table lt-table" data-testid="loadtest-running-percentiles">
        <thead>
          <tr>
            <th>{t('loadtests.metric')}</th>
            <th className="num">p50</th>
            <th className="num">p90</th>
            <th className="num">p99</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([m, d]) => (
            <tr key={m}>
              <td>{t(`loadtests.metric.${m}`)}</td>
              <td className="num">{ms(d?.p50)}</td>
              <td className="num">{ms(d?.p90)}</td>
              <td className="num">{ms(d?.p99)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {history.length > 1 && (
        <LineChart
          label={t('loadtests.liveTtft')}
          xKind="number"
          formatX={(x) => `${x.toFixed(0)} s`}
          formatY={(y) => ms(y)}
          height={160}
          testId="loadtest-live-chart"
          series={[
            { name: 'TTFT p50', points: history.map((h) => ({ x: h.x, y: h.p50 })) },
            { name: 'TTFT p99', points: history.map((h) => ({ x: h.x, y: h.p99 })), dashed: true },
          ]}
        />
      )}
    </>
  );
}
