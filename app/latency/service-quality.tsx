'use client';

import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { LineChart, type LineSeries } from '../components/charts/line-chart';
import { useErrorToast } from '../components/toast';
import { useI18n } from '../i18n/provider';
import { useTRPC, type RouterOutputs } from '../lib/trpc';

type Row = RouterOutputs['usage']['quality'][number];
const RANGES = [7, 30, 90];

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** One series per model of a figure of its days (days without requests have no point). */
function seriesOf(rows: Row[], value: (r: Row) => number | null): LineSeries[] {
  const byModel = new Map<string, { x: number; y: number }[]>();
  for (const r of rows) {
    const y = value(r);
    if (y === null) continue;
    byModel.set(r.model, [...(byModel.get(r.model) ?? []), { x: Date.parse(`${r.day}T00:00:00Z`), y }]);
  }
  return [...byModel.entries()].map(([name, points]) => ({ name, points }));
}

/** Chat failure rate and response times per model and day, drawn (usage.quality, from the daily rollup). */
export function ServiceQuality() {
  const { t } = useI18n();
  const trpc = useTRPC();
  const [days, setDays] = useState(30);
  const now = Date.now();
  const range = { from: utcDay(now - (days - 1) * 86_400_000), to: utcDay(now) };
  const quality = useQuery(trpc.usage.quality.queryOptions(range));
  useErrorToast(quality.error);
  const rows = quality.data ?? [];
  const xMin = Date.parse(`${range.from}T00:00:00Z`);
  const xMax = Date.parse(`${range.to}T00:00:00Z`);
  const totals = new Map<string, { requests: number; errors: number }>();
  for (const r of rows) {
    const m = totals.get(r.model) ?? { requests: 0, errors: 0 };
    totals.set(r.model, { requests: m.requests + r.requests, errors: m.errors + r.errors });
  }

  return (
    <section className="card experiment-panel" data-testid="service-quality">
      <div className="page-head">
        <div>
          <h2>{t('quality.title')}</h2>
          <p className="muted">{t('quality.hint')}</p>
        </div>
        <label className="field">
          <span>{t('quality.days')}</span>
          <select value={days} onChange={(e) => setDays(Number(e.target.value))} data-testid="quality-days">
            {RANGES.map((n) => (
              <option key={n} value={n}>
                {t('quality.lastDays', { n })}
              </option>
            ))}
          </select>
        </label>
      </div>
      {quality.data && rows.length === 0 && <p className="muted">{t('quality.empty')}</p>}
      {rows.length > 0 && (
        <div className="experiment-grid">
          <div>
            <h3>{t('quality.failureRate')}</h3>
            <LineChart
              label={t('quality.failureRate')}
              testId="quality-failure-chart"
              xKind="time"
              xMin={xMin}
              xMax={xMax}
              yMin={0}
              formatY={(v) => `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`}
              series={seriesOf(rows, (r) => r.failureRate)}
            />
          </div>
          <div>
            <h3>{t('quality.p95')}</h3>
            <LineChart label={t('quality.p95')} testId="quality-p95-chart" xKind="time" xMin={xMin} xMax={xMax} yMin={0} series={seriesOf(rows, (r) => r.p95E2eMs)} />
          </div>
          <div>
            <h3>{t('quality.meanTtft')}</h3>
            <LineChart label={t('quality.meanTtft')} testId="quality-ttft-chart" xKind="time" xMin={xMin} xMax={xMax} yMin={0} series={seriesOf(rows, (r) => r.meanTtftMs)} />
          </div>
          <table className="table table-dense" data-testid="quality-table">
            <thead>
              <tr>
                <th>{t('quality.model')}</th>
                <th>{t('quality.requests')}</th>
                <th>{t('quality.errors')}</th>
                <th>{t('quality.failureRate')}</th>
              </tr>
            </thead>
            <tbody>
              {[...totals.entries()].map(([model, m]) => (
                <tr key={model}>
                  <td>{model}</td>
                  <td>{m.requests}</td>
                  <td>{m.errors}</td>
                  <td>{m.requests ? `${((m.errors / m.requests) * 100).toFixed(1)}%` : '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
