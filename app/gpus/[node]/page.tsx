'use client';

import Link from 'next/link';
import { useParams } from 'next/navigation';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { DetailHead } from '../../components/detail-head';
import { formatAge } from '../../components/fleet/format';
import { canManageFleet } from '../../components/fleet/roles';
import { StatusBadge } from '../../components/fleet/status-badge';
import { AllocationTable } from '../../components/monitoring/allocation-table';
import { GpuCharts, type Thresholds } from '../../components/monitoring/gpu-charts';
import { formatDuration } from '../../components/monitoring/kinds';
import type { TelemetryWindow } from '../../components/monitoring/views';
import { WindowSwitch } from '../../components/monitoring/window-switch';
import { useSession } from '../../components/session';
import { useI18n } from '../../i18n/provider';
import { readableError } from '../../lib/errors';
import { errorCode, useTRPC } from '../../lib/trpc';

// A point per 30 s at most: refreshing faster than that only redraws the same buckets.
const REFRESH_MS = 30_000;

/** One node's GPUs over time: utilisation, memory, temperature and power, with who held each GPU drawn as bands. */
export default function GpuNodePage() {
  const { t, locale } = useI18n();
  const { me } = useSession();
  const { node: nodeId } = useParams<{ node: string }>();
  const [span, setSpan] = useState<TelemetryWindow>('hour');
  const [gpu, setGpu] = useState<number | 'all' | null>(null);
  const trpc = useTRPC();
  // Another window keeps the charts of the one before on screen until its own arrive.
  const { data, error } = useQuery(trpc.monitoring.gpuSeries.queryOptions({ nodeId, window: span }, { refetchInterval: REFRESH_MS, placeholderData: keepPreviousData }));
  const alerts = useQuery(trpc.monitoring.alerts.queryOptions(undefined, { refetchInterval: REFRESH_MS }));

  // The alert thresholds are drawn as lines; rules are readable by engineers and admins only (and the
  // charts are still right without the lines if they cannot be read).
  const rules = useQuery(trpc.monitoring.rules.queryOptions(undefined, { enabled: canManageFleet(me.role) })).data;
  const on = (kind: string) => rules?.find((r) => r.kind === kind && r.enabled && !r.scope.node && !r.scope.gpu)?.threshold;
  const thresholds: Thresholds = rules ? { temperatureC: on('gpu_temperature'), memoryPct: on('gpu_memory_pressure') } : {};

  // One GPU shows its own bands and memory allocated; a node with several starts on all of them.
  const selected = gpu ?? (data && data.gpus.length === 1 ? data.gpus[0]!.index : 'all');

  if (!data) {
    const missing = errorCode(error) === 'NOT_FOUND' || errorCode(error) === 'BAD_REQUEST';
    return (
      <div className="manage-page fleet-page">
        <Link href="/gpus">← {t('monitoring.backToGpus')}</Link>
        {error ? <p className="form-error">{missing ? t('monitoring.nodeNotFound') : readableError(error, t)}</p> : <p className="muted">{t('common.loading')}</p>}
      </div>
    );
  }

  const hasSamples = data.gpus.some((g) => g.points.length > 0);
  // Alert subjects are "node" or "node/gpuN" (see server/operations/alerts/evaluators.ts).
  const firingHere = (alerts.data?.firing ?? []).filter((a) => a.subject === data.node.name || a.subject.startsWith(`${data.node.name}/`));
  return (
    <div className="manage-page fleet-page" data-testid="gpu-node-page" data-node={data.node.name}>
      <Link href="/gpus">← {t('monitoring.backToGpus')}</Link>
      <DetailHead title={<>{data.node.name} <StatusBadge status={data.node.status} /></>}>
        <p className="muted">
          {data.node.lastHeartbeatAt ? t('gpus.lastHeartbeat', { age: formatAge(data.node.lastHeartbeatAt, locale) }) : t('gpus.noHeartbeat')}
        </p>
      </DetailHead>
      {firingHere.length > 0 && (
        <Link href="/alerts" className="card alert-item alert-critical" data-testid="node-firing-alerts" style={{ display: 'block', textDecoration: 'none', color: 'inherit' }}>
          <strong>{t('monitoring.firingOnNode', { count: firingHere.length })}</strong>
          <span className="muted"> · {firingHere.map((a) => a.message).join(' · ')}</span>
        </Link>
      )}
      <div className="charts-toolbar">
        <WindowSwitch value={span} onChange={setSpan} />
        {data.gpus.length > 1 && (
          <div className="gpu-picker" data-testid="gpu-picker">
            <button type="button" className={selected === 'all' ? 'active' : ''} onClick={() => setGpu('all')}>
              {t('monitoring.allGpus')}
            </button>
            {data.gpus.map((g) => (
              <button key={g.index} type="button" className={selected === g.index ? 'active' : ''} onClick={() => setGpu(g.index)} data-gpu={g.index}>
                {t('monitoring.gpu', { index: g.index })}
              </button>
            ))}
          </div>
        )}
        <span className="spacer" />
        <span className="muted">{t('monitoring.bucket', { span: formatDuration(data.bucketSeconds) })}</span>
      </div>
      {!hasSamples && <p className="no-gpus">{t('monitoring.noSamples')}</p>}
      {hasSamples && <GpuCharts series={data} gpuIndex={selected} thresholds={thresholds} />}
      <h2 className="section-title">{t('monitoring.allocations')}</h2>
      <AllocationTable allocations={data.allocations} />
    </div>
  );
}
