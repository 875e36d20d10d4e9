'use client';

import { LineChart } from '../charts/line-chart';
import { PALETTE } from '../charts/scale';
import { useI18n } from '../../i18n/provider';
import type { AllocationView, GpuSeries, NodeSeries } from './views';

// Soft fills so lines stay readable over the bands; one per holder, in order of appearance.
const BAND_COLORS = ['var(--band-1)', 'var(--band-2)', 'var(--band-3)', 'var(--band-4)', 'var(--band-5)'];
const GIB = 1024;

export interface Thresholds {
  temperatureC?: number;
  memoryPct?: number;
}

/**
 * Utilisation, memory, temperature and power of one GPU (with its memory allocated and who held it
 * drawn as bands) or of every GPU of the node (a line per GPU, bands naming the GPU).
 */
export function GpuCharts({ series, gpuIndex, thresholds }: { series: NodeSeries; gpuIndex: number | 'all'; thresholds: Thresholds }) {
  const { t } = useI18n();
  const gpus = gpuIndex === 'all' ? series.gpus : series.gpus.filter((g) => g.index === gpuIndex);
  const single = gpuIndex === 'all' ? null : (gpus[0] ?? null);
  const holders = [...new Set(series.allocations.map((a) => a.holderName))];
  const bands = series.allocations
    .filter((a) => gpuIndex === 'all' || a.gpuIndex === gpuIndex)
    .map((a) => ({
      from: a.from,
      to: a.to ?? series.to,
      label: gpuIndex === 'all' ? `GPU ${a.gpuIndex} · ${holderLabel(a, t('monitoring.job'))}` : holderLabel(a, t('monitoring.job')),
      color: BAND_COLORS[holders.indexOf(a.holderName) % BAND_COLORS.length],
    }));
  const common = { xKind: 'time' as const, xMin: series.from, xMax: series.to, bands, height: 190 };
  const line = (g: GpuSeries, pick: (p: GpuSeries['points'][number]) => number | null, i: number, name?: string) => ({
    name: name ?? t('monitoring.gpu', { index: g.index }),
    color: PALETTE[i % PALETTE.length],
    points: g.points.flatMap((p) => {
      const v = pick(p);
      return v === null ? [] : [{ x: p.at, y: v }];
    }),
  });
  const totalMiB = single?.memoryTotalMiB ?? Math.max(0, ...gpus.map((g) => g.memoryTotalMiB ?? 0));

  const memorySeries = single
    ? [
        line(single, (p) => (p.memoryUsedMiB === null ? null : p.memoryUsedMiB / GIB), 0, t('monitoring.memoryUsed')),
        { ...line(single, (p) => p.memoryAllocatedMiB / GIB, 1, t('monitoring.memoryAllocated')), dashed: true },
      ]
    : gpus.map((g, i) => line(g, (p) => (p.memoryUsedMiB === null ? null : p.memoryUsedMiB / GIB), i));
  // One line at the total, naming the alert threshold too: two lines 5 % apart would print over each other.
  const memoryMarkers = totalMiB
    ? [
        {
          y: totalMiB / GIB,
          label: `${t('monitoring.memoryTotal')} ${Math.round(totalMiB / GIB)} GiB${thresholds.memoryPct !== undefined ? ` · ${t('monitoring.alertAt', { value: `${thresholds.memoryPct} %` })}` : ''}`,
        },
      ]
    : [];

  return (
    <div className="gpu-charts" data-testid="gpu-charts" data-gpu={String(gpuIndex)}>
      <section className="card chart-card">
        <h3>{t('monitoring.utilization')}</h3>
        <LineChart
          {...common}
          label={t('monitoring.utilization')}
          series={gpus.map((g, i) => line(g, (p) => p.utilizationPct, i))}
          yMin={0}
          yMax={100}
          formatY={(v) => `${Math.round(v)}%`}
          testId="chart-utilization"
        />
      </section>
      <section className="card chart-card">
        <h3>{t('monitoring.memory')}</h3>
        <LineChart {...common} label={t('monitoring.memory')} series={memorySeries} yMin={0} markers={memoryMarkers} formatY={(v) => `${Math.round(v)} GiB`} testId="chart-memory" />
      </section>
      <section className="card chart-card">
        <h3>{t('monitoring.temperature')}</h3>
        <LineChart
          {...common}
          label={t('monitoring.temperature')}
          series={gpus.map((g, i) => line(g, (p) => p.temperatureC, i))}
          yMin={20}
          markers={thresholds.temperatureC !== undefined ? [{ y: thresholds.temperatureC, label: t('monitoring.alertAt', { value: `${thresholds.temperatureC} °C` }) }] : []}
          formatY={(v) => `${Math.round(v)}°`}
          testId="chart-temperature"
        />
      </section>
      <section className="card chart-card">
        <h3>{t('monitoring.power')}</h3>
        <LineChart {...common} label={t('monitoring.power')} series={gpus.map((g, i) => line(g, (p) => p.powerW, i))} yMin={0} formatY={(v) => `${Math.round(v)} W`} testId="chart-power" />
      </section>
    </div>
  );
}

export function holderLabel(a: AllocationView, jobWord: string): string {
  return a.holderKind === 'job' ? `${jobWord}: ${a.holderName}` : a.holderName;
}
