'use client';

import { useEffect, useState } from 'react';
import { fleetApi } from '../components/fleet/fleet-api';
import { NodeCard } from '../components/fleet/node-card';
import type { SamplePoint } from '../components/fleet/types';
import { usePoll } from '../components/fleet/use-poll';
import { useI18n } from '../i18n/provider';
import { readableError } from '../lib/errors';

const NODES_REFRESH_MS = 5000;
const SAMPLES_REFRESH_MS = 30_000;
const HOUR_MS = 3_600_000;

export default function GpusPage() {
  const { t } = useI18n();
  const { data: nodes, error } = usePoll(fleetApi.nodes, NODES_REFRESH_MS);
  const [samples, setSamples] = useState<Record<string, SamplePoint[]>>({});
  const [now, setNow] = useState(() => Date.now());
  const nodeIds = (nodes ?? []).filter((n) => n.gpus.length > 0).map((n) => n.id).join(',');

  // The hour of history changes slowly: fetched per node with GPUs every 30 s, not with every refresh.
  useEffect(() => {
    if (!nodeIds) return;
    let cancelled = false;
    const load = () => {
      const since = new Date(Date.now() - HOUR_MS);
      setNow(Date.now());
      for (const id of nodeIds.split(',')) {
        fleetApi
          .samples(id, since)
          .then((points) => !cancelled && setSamples((all) => ({ ...all, [id]: points })))
          .catch(() => undefined); // the cards still show the latest sample; the sparkline just stays as it was
      }
    };
    load();
    const timer = setInterval(load, SAMPLES_REFRESH_MS);
    return () => {
      cancelled = true;
      clearInterval(timer);
    };
  }, [nodeIds]);

  return (
    <div className="manage-page fleet-page">
      <div className="page-head">
        <div>
          <h1>{t('gpus.title')}</h1>
          <p className="muted">{t('gpus.subtitle')}</p>
        </div>
      </div>
      {error !== null && !nodes && <p className="form-error">{readableError(error, t)}</p>}
      {!nodes && error === null && <p className="muted">{t('common.loading')}</p>}
      {nodes?.length === 0 && <p className="muted">{t('gpus.empty')}</p>}
      {nodes?.map((node) => <NodeCard key={node.id} node={node} samples={samples[node.id] ?? []} now={now} />)}
    </div>
  );
}
