'use client';

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { useTRPC, useTRPCClient } from '../../lib/trpc';
import { FINISHED, type JobView, type MetricView } from './views';

/** Running jobs report a step every second or so; polling faster than that only repeats the same answer. */
const LIVE_MS = 1500;
/** While the server's event stream is open, updates wake the page at once; polling is only a safety net. */
const STREAMING_POLL_MS = 10_000;

const key = (m: MetricView) => `${m.kind}:${m.step}`;

/** New points replace old ones with the same kind and step (a resumed job repeats steps), kept in step order. */
export function mergeMetrics(old: MetricView[], fresh: MetricView[]): MetricView[] {
  if (fresh.length === 0) return old;
  const byKey = new Map(old.map((m) => [key(m), m]));
  for (const m of fresh) byKey.set(key(m), m);
  return [...byKey.values()].sort((a, b) => a.step - b.step || (a.kind === b.kind ? 0 : a.kind === 'step' ? -1 : 1));
}

interface Live {
  job: JobView | undefined;
  metrics: MetricView[];
  logs: string[];
  error: unknown;
  reload(): void;
}

/**
 * A job, its metric points and its last log lines, read together whenever the job's subscription says
 * it changed (polling every 1.5 s while there is no subscription) and once more when it finishes; then
 * it stops. Metrics are read incrementally (sinceStep) and merged with those already shown.
 */
export function useJobLive(id: string): Live {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const queryKey = [...trpc.jobs.get.queryKey({ id }), 'live'];

  // Updates (fed by the runner's Redis messages) say when the job changed; each one triggers a read now
  // instead of at the next poll. Without them (a proxy, a dropped stream) polling carries on alone.
  const events = useSubscription(trpc.jobs.events.subscriptionOptions({ id }, { onData: () => void live.refetch() }));
  const streaming = events.status === 'pending';

  const live = useQuery({
    queryKey,
    queryFn: async () => {
      const shown = queryClient.getQueryData<{ metrics: MetricView[] }>(queryKey)?.metrics ?? [];
      // One step back: an eval event may arrive for the step the last read already saw.
      const last = shown.at(-1)?.step;
      const sinceStep = last === undefined ? undefined : Math.max(0, last - 1);
      const [job, fresh, logs] = await Promise.all([client.jobs.get.query({ id }), client.jobs.metrics.query({ id, sinceStep }), client.jobs.logs.query({ id })]);
      return { job, metrics: mergeMetrics(shown, fresh), logs: logs.lines };
    },
    refetchInterval: (query) => (FINISHED.has(query.state.data?.job.status ?? '') ? false : streaming ? STREAMING_POLL_MS : LIVE_MS),
  });

  return { job: live.data?.job, metrics: live.data?.metrics ?? NO_METRICS, logs: live.data?.logs ?? NO_LOGS, error: live.error, reload: () => void live.refetch() };
}

const NO_METRICS: MetricView[] = [];
const NO_LOGS: string[] = [];
