'use client';

import { useI18n } from '../../i18n/provider';
import { readableError } from '../../lib/errors';
import { Histogram } from '../charts/histogram';
import { PALETTE } from '../charts/scale';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { formatMs, type LatencyInput } from './views';

const REFRESH_MS = 15_000;

/**
 * One latency histogram with vLLM's buckets and percentile lines, refreshed while shown. `names` turns
 * series keys (variant ids) into labels; a single series is named `title`.
 */
export function LatencyHistogram({ query, title, names, testId }: { query: LatencyInput; title: string; names?: Map<string, string>; testId?: string }) {
  const { t } = useI18n();
  const trpc = useTRPC();
  const { data, error } = useQuery(trpc.experiments.latency.queryOptions(query, { refetchInterval: REFRESH_MS, placeholderData: keepPreviousData }));
  if (!data) return error ? <p className="form-error">{readableError(error, t)}</p> : <p className="muted">{t('common.loading')}</p>;
  // A variant keeps its colour across the page: by its place in `names` (the experiment's variant order,
  // as the variant table colours them), not by the order the server happened to list the series in.
  const order = names ? [...names.keys()] : [];
  const colourOf = (key: string, i: number) => PALETTE[(order.includes(key) ? order.indexOf(key) : i) % PALETTE.length];
  const series = data.series.map((s, i) => ({
    name: names?.get(s.key) ?? (s.key || title),
    // JSON has no Infinity: the server sends the +Inf bucket's bound as null.
    buckets: s.buckets.map((b) => ({ le: b.le ?? Number.POSITIVE_INFINITY, count: b.count })),
    color: colourOf(s.key, i),
  }));
  const single = data.series.length === 1 ? data.series[0]! : null;
  const percentiles = single?.percentiles
    ? [
        { label: 'p50', value: single.percentiles.p50 },
        { label: 'p90', value: single.percentiles.p90 },
        { label: 'p99', value: single.percentiles.p99 },
      ]
    : data.series.flatMap((s) => (s.percentiles ? [{ label: `${names?.get(s.key) ?? s.key} p50`, value: s.percentiles.p50 }] : []));
  return (
    <div data-testid={testId} data-count={data.series.reduce((n, s) => n + s.count, 0)}>
      {data.series.length === 0 ? (
        <p className="muted">{t('experiments.noSamples')}</p>
      ) : (
        <>
          <Histogram series={series} label={title} unit="ms" percentiles={percentiles} />
          <div className="latency-stats">
            {data.series.map((s) => (
              <span key={s.key} data-testid="latency-series-stats">
                <strong>{names?.get(s.key) ?? (s.key || title)}</strong>: n = {s.count} · {t('experiments.mean')} {formatMs(s.meanMs)}
                {s.percentiles && ` · p50 ${formatMs(s.percentiles.p50)} · p90 ${formatMs(s.percentiles.p90)} · p95 ${formatMs(s.percentiles.p95)} · p99 ${formatMs(s.percentiles.p99)}`}
              </span>
            ))}
          </div>
        </>
      )}
    </div>
  );
}
