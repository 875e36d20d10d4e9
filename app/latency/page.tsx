'use client';

import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import type { LatencyInput } from '../components/experiments/views';
import { LatencyHistogram } from '../components/experiments/latency-histogram';
import { useErrorToast } from '../components/toast';
import { useI18n } from '../i18n/provider';
import { useTRPC } from '../lib/trpc';
import { ServiceQuality } from './service-quality';
import { CacheRate } from './cache-rate';

type Kind = 'deployment' | 'model' | 'experiment' | 'variant' | 'loadTest';
const KINDS: Kind[] = ['deployment', 'model', 'experiment', 'variant', 'loadTest'];
const WINDOWS = [1, 6, 24, 24 * 7, 24 * 30];
const LOG_METRICS = ['ttft', 'itl', 'e2e', 'overhead'] as const;
const RUN_METRICS = ['ttft', 'itl', 'e2e', 'tpot'] as const;

/** Latency histograms over a window, from request logs (per deployment, model, experiment or variant) or from one load test. */
export default function LatencyPage() {
  const { t } = useI18n();
  const trpc = useTRPC();
  const latencyOptions = useQuery(trpc.experiments.latencyOptions.queryOptions());
  useErrorToast(latencyOptions.error);
  const options = latencyOptions.data ?? null;
  const [kind, setKind] = useState<Kind>('deployment');
  const [target, setTarget] = useState('');
  const [hours, setHours] = useState(24);

  const choices: { value: string; label: string }[] = !options
    ? []
    : kind === 'deployment'
      ? options.deployments.map((d) => ({ value: d.id, label: d.name }))
      : kind === 'model'
        ? options.models.map((m) => ({ value: m, label: m }))
        : kind === 'experiment'
          ? options.experiments.map((e) => ({ value: e.id, label: e.name }))
          : kind === 'variant'
            ? options.experiments.flatMap((e) => e.variants.map((v) => ({ value: v.id, label: `${e.name} · ${v.label}` })))
            : options.loadTests.map((r) => ({ value: r.id, label: `${r.name} (${r.status})` }));
  const chosen = choices.some((c) => c.value === target) ? target : (choices[0]?.value ?? '');
  const scope: LatencyInput['scope'] | null = !chosen ? null : kind === 'model' ? { kind, name: chosen } : { kind, id: chosen };
  const names = kind === 'experiment' ? new Map(options?.experiments.find((e) => e.id === chosen)?.variants.map((v) => [v.id, v.label])) : undefined;
  const metrics = kind === 'loadTest' ? RUN_METRICS : LOG_METRICS;

  return (
    <div className="manage-page fleet-page">
      <div className="page-head">
        <div>
          <h1>{t('latency.title')}</h1>
          <p className="muted">{t('latency.subtitle')}</p>
        </div>
      </div>
      <div className="card latency-controls" data-testid="latency-controls">
        <label className="field">
          <span>{t('latency.source')}</span>
          <select value={kind} onChange={(e) => { setKind(e.target.value as Kind); setTarget(''); }} data-testid="latency-kind">
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {t(`latency.kind.${k}`)}
              </option>
            ))}
          </select>
        </label>
        <label className="field" style={{ minWidth: 240 }}>
          <span>{t(`latency.kind.${kind}`)}</span>
          <select value={chosen} onChange={(e) => setTarget(e.target.value)} data-testid="latency-target" disabled={choices.length === 0}>
            {choices.length === 0 && <option value="">{options ? t('latency.nothing') : t('common.loading')}</option>}
            {choices.map((c) => (
              <option key={c.value} value={c.value}>
                {c.label}
              </option>
            ))}
          </select>
        </label>
        {kind !== 'loadTest' && (
          <label className="field">
            <span>{t('experiments.window')}</span>
            <select value={hours} onChange={(e) => setHours(Number(e.target.value))} data-testid="latency-window">
              {WINDOWS.map((h) => (
                <option key={h} value={h}>
                  {t('experiments.lastHours', { n: h })}
                </option>
              ))}
            </select>
          </label>
        )}
        <small className="muted">{t('latency.bucketsNote')}</small>
      </div>
      <ServiceQuality />
      {scope && scope.kind !== 'loadTest' && <CacheRate scope={scope} hours={hours} />}
      {scope && (
        <div className="experiment-grid">
          {metrics.map((metric) => (
            <div key={metric} className="card experiment-panel">
              <h2>{t(`experiments.metric.${metric}`)}</h2>
              <LatencyHistogram query={{ scope, metric, hours }} title={t(`experiments.metric.${metric}`)} names={names} testId={`latency-${metric}`} />
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
