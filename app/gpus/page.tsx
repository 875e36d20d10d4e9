'use client';

import { keepPreviousData, useQueries, useQuery } from '@tanstack/react-query';
import { NodeCard } from '../components/fleet/node-card';
import { EstimateErrorsTable } from '../components/start-measurements/estimate-errors-table';
import { useI18n } from '../i18n/provider';
import { readableError } from '../lib/errors';
import { useTRPC } from '../lib/trpc';
import { useNow } from '../lib/use-now';

const NODES_REFRESH_MS = 5000;
const SAMPLES_REFRESH_MS = 30_000;
const HOUR_MS = 3_600_000;

export default function GpusPage() {
  const { t } = useI18n();
  const trpc = useTRPC();
  const { data: nodes, error } = useQuery(trpc.fleet.nodes.queryOptions(undefined, { refetchInterval: NODES_REFRESH_MS }));
  // The hour of history changes slowly: read per node with GPUs every 30 s, not with every refresh.
  const now = useNow(SAMPLES_REFRESH_MS);
  const since = new Date(now - HOUR_MS).toISOString();
  const withGpus = (nodes ?? []).filter((n) => n.gpus.length > 0);
  // A failed read keeps the sparkline as it was; the cards still show the latest sample.
  const samples = useQueries({ queries: withGpus.map((n) => trpc.fleet.samples.queryOptions({ nodeId: n.id, since }, { placeholderData: keepPreviousData })) });
  const samplesOf = new Map(withGpus.map((n, i) => [n.id, samples[i]?.data ?? []]));

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
      {nodes?.map((node) => <NodeCard key={node.id} node={node} samples={samplesOf.get(node.id) ?? []} now={now} />)}
      {withGpus.length > 0 && <EstimateErrorsTable />}
    </div>
  );
}
