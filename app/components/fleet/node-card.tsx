'use client';

import Link from 'next/link';
import { useI18n } from '../../i18n/provider';
import { formatAge, formatBytes, formatMiB, percentOf } from './format';
import { Sparkline } from './sparkline';
import { StatusBadge } from './status-badge';
import type { GpuView, NodeView, SamplePoint } from './views';

const HOUR_MS = 3_600_000;

/** One node: its health and versions, then one card per GPU with memory, load, heat, power and holders. */
export function NodeCard({ node, samples, now }: { node: NodeView; samples: SamplePoint[]; now: number }) {
  const { t, locale } = useI18n();
  const labels = Object.entries(node.labels ?? {});
  return (
    <section className="card node-card" data-testid="node-card" data-node={node.name}>
      <div className="node-head">
        <h2>
          <Link href={`/gpus/${node.id}`} title={t('monitoring.charts')} style={{ color: 'inherit', textDecoration: 'none' }}>
            {node.name}
          </Link>
        </h2>
        {node.gpus.length > 0 && (
          <Link href={`/gpus/${node.id}`} className="chip chip-accent" data-testid="node-charts-link">
            {t('monitoring.charts')} →
          </Link>
        )}
        <StatusBadge status={node.status} testId="node-status" />
        {labels.map(([k, v]) => (
          <span key={k} className="chip">
            {k}={v}
          </span>
        ))}
      </div>
      <div className="node-meta">
        {(node.driverVersion || node.cudaVersion) && <span>{t('gpus.driver', { driver: node.driverVersion ?? '—', cuda: node.cudaVersion ?? '—' })}</span>}
        <span>{node.lastHeartbeatAt ? t('gpus.lastHeartbeat', { age: formatAge(node.lastHeartbeatAt, locale, now) }) : t('gpus.noHeartbeat')}</span>
      </div>
      <HostFigures node={node} />
      {node.gpus.length === 0 ? (
        <p className="no-gpus" data-testid="no-gpus">
          {t('gpus.noGpus')}
        </p>
      ) : (
        <div className="gpu-grid">
          {node.gpus.map((gpu) => (
            <GpuCard key={gpu.index} gpu={gpu} samples={samples.filter((s) => s.gpuIndex === gpu.index)} now={now} />
          ))}
        </div>
      )}
    </section>
  );
}

/**
 * The host itself: CPU, memory and the data directory's disk, as the agent reported them with its last
 * heartbeat. For a CPU-only node this is the whole picture (it used to show only "no GPUs").
 */
function HostFigures({ node }: { node: NodeView }) {
  const { t } = useI18n();
  const h = node.host;
  if (!h) {
    return (
      <p className="muted host-none" data-testid="host-none">
        {t('polish.host.none')}
      </p>
    );
  }
  const memUsed = h.memoryTotalBytes - h.memoryAvailableBytes;
  const memPct = percentOf(memUsed, h.memoryTotalBytes);
  const diskUsed = h.diskTotalBytes !== null && h.diskFreeBytes !== null ? h.diskTotalBytes - h.diskFreeBytes : null;
  const diskPct = percentOf(diskUsed, h.diskTotalBytes);
  const loadPct = Math.min(100, (h.load1 / h.cpuCores) * 100);
  return (
    <div className="host-figures" data-testid="host-figures">
      <div className="gpu-stat" data-testid="host-cpu">
        <span className="muted">{t('polish.host.cpu')}</span>
        <span title={h.cpuModel ?? undefined}>{t('polish.host.cpuValue', { cores: h.cpuCores, load: h.load1.toFixed(2) })}</span>
        <div className={`meter${loadPct > 90 ? ' meter-hot' : ''}`} role="img" aria-label={`${t('polish.host.cpu')} ${Math.round(loadPct)}%`}>
          <span style={{ width: `${loadPct}%` }} />
        </div>
      </div>
      <div className="gpu-stat" data-testid="host-memory">
        <span className="muted">{t('polish.host.memory')}</span>
        <span>
          {formatBytes(memUsed)} / {formatBytes(h.memoryTotalBytes)}
        </span>
        <div className={`meter${memPct > 90 ? ' meter-hot' : ''}`} role="img" aria-label={`${t('polish.host.memory')} ${Math.round(memPct)}%`}>
          <span style={{ width: `${memPct}%` }} />
        </div>
      </div>
      <div className="gpu-stat" data-testid="host-disk">
        <span className="muted" title={h.diskPath}>
          {t('polish.host.disk')}
        </span>
        <span>{diskUsed === null ? '—' : t('polish.host.diskValue', { free: formatBytes(h.diskFreeBytes), total: formatBytes(h.diskTotalBytes) })}</span>
        <div className={`meter${diskPct > 90 ? ' meter-hot' : ''}`} role="img" aria-label={`${t('polish.host.disk')} ${Math.round(diskPct)}%`}>
          <span style={{ width: `${diskPct}%` }} />
        </div>
      </div>
    </div>
  );
}

function GpuCard({ gpu, samples, now }: { gpu: GpuView; samples: SamplePoint[]; now: number }) {
  const { t } = useI18n();
  const s = gpu.sample;
  const memPct = percentOf(s?.memoryUsedMiB, gpu.memoryTotalMiB);
  const fmt = (value: number | null | undefined, unit: string) => (value === null || value === undefined ? '—' : `${Math.round(value)} ${unit}`);
  return (
    <article className="gpu-card" data-testid="gpu-card" data-index={gpu.index}>
      <header>
        <strong>GPU {gpu.index}</strong>
        <span className="muted" title={gpu.name ?? undefined}>{gpu.name ?? ''}</span>
      </header>
      <div>
        <div style={{ display: 'flex', justifyContent: 'space-between', fontSize: 12 }}>
          <span className="muted">{t('gpus.memory')}</span>
          <span style={{ fontVariantNumeric: 'tabular-nums' }}>
            {formatMiB(s?.memoryUsedMiB)} / {formatMiB(gpu.memoryTotalMiB)}
          </span>
        </div>
        <div className={`meter${memPct > 90 ? ' meter-hot' : ''}`} role="img" aria-label={`${t('gpus.memory')} ${Math.round(memPct)}%`}>
          <span style={{ width: `${memPct}%` }} />
        </div>
      </div>
      {s ? (
        <div className="gpu-stats">
          <span>
            <span className="muted">{t('gpus.utilization')}</span>
            <b>{fmt(s.utilizationPct, '%')}</b>
          </span>
          <span>
            <span className="muted">{t('gpus.temperature')}</span>
            <b>{fmt(s.temperatureC, '°C')}</b>
          </span>
          <span>
            <span className="muted">{t('gpus.power')}</span>
            <b>{fmt(s.powerW, 'W')}</b>
          </span>
        </div>
      ) : (
        <p className="muted" style={{ margin: 0, fontSize: 12 }}>{t('gpus.noSample')}</p>
      )}
      <div>
        <span className="muted" style={{ fontSize: 11 }}>{t('gpus.lastHour')}</span>
        <Sparkline
          label={t('gpus.lastHour')}
          from={now - HOUR_MS}
          to={now}
          points={samples.filter((p) => p.utilizationPct !== null).map((p) => ({ at: new Date(p.at).getTime(), value: p.utilizationPct! }))}
        />
      </div>
      <div className="gpu-holders" data-testid="gpu-holders">
        <span className="muted">{t('gpus.heldBy')}</span>
        {gpu.allocations.length === 0 && <span className="chip">{t('gpus.free')}</span>}
        {gpu.allocations.map((a) => {
          const text = `${a.holderName ?? a.holderId.slice(0, 8)}${a.memoryBytes ? ` · ${formatBytes(a.memoryBytes)}` : ''}`;
          return a.deploymentId ? (
            <Link key={`${a.holderKind}-${a.holderId}`} href={`/deployments/${a.deploymentId}`} className="chip chip-accent" data-testid="allocation-chip">
              {text}
            </Link>
          ) : (
            <span key={`${a.holderKind}-${a.holderId}`} className="chip" data-testid="allocation-chip">
              {t('gpus.job')}: {text}
            </span>
          );
        })}
      </div>
    </article>
  );
}
