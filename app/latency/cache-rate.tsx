'use client';

import { useQuery } from '@tanstack/react-query';
import type { LatencyInput } from '../components/experiments/views';
import { useErrorToast } from '../components/toast';
import { useI18n } from '../i18n/provider';
import { useTRPC } from '../lib/trpc';

/** The response cache's hit rate for the chosen deployment, model or experiment over the window (the histograms include the hits). */
export function CacheRate({ scope, hours }: { scope: LatencyInput['scope']; hours: number }) {
  const { t } = useI18n();
  const trpc = useTRPC();
  const rate = useQuery(trpc.experiments.cacheRate.queryOptions({ scope, hours }));
  useErrorToast(rate.error);
  const r = rate.data;
  return (
    <section className="card" data-testid="latency-cache">
      <h2>{t('latency.cacheTitle')}</h2>
      {r && (
        <p className={r.rate === null ? 'muted' : undefined} data-testid="latency-cache-rate">
          {r.rate === null ? t('latency.cacheNone') : t('latency.cacheRate', { rate: `${(r.rate * 100).toFixed(1)}%`, hits: r.hits, misses: r.misses })}
        </p>
      )}
    </section>
  );
}
