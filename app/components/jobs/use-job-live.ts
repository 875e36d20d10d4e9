'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import { jobsApi } from './jobs-api';
import { FINISHED, type JobView, type MetricView } from './types';

/** Running jobs report a step every second or so; polling faster than that only repeats the same answer. */
const LIVE_MS = 1500;

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
 * A job, its metric points and its last log lines, followed every 1.5 s while it can still change and
 * once more when it finishes; then polling stops. Metrics are fetched incrementally (sinceStep).
 */
export function useJobLive(id: string): Live {
  const [job, setJob] = useState<JobView | undefined>(undefined);
  const [metrics, setMetrics] = useState<MetricView[]>([]);
  const [logs, setLogs] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const lastStep = useRef<number | undefined>(undefined);

  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      let finished = false;
      if (document.visibilityState !== 'hidden') {
        try {
          // One step back: an eval event may arrive for the step the last poll already saw.
          const since = lastStep.current === undefined ? undefined : Math.max(0, lastStep.current - 1);
          const [j, fresh, lines] = await Promise.all([jobsApi.get(id), jobsApi.metrics(id, since), jobsApi.logs(id)]);
          if (cancelled) return;
          setJob(j);
          setLogs(lines);
          setMetrics((old) => {
            const merged = mergeMetrics(old, fresh);
            lastStep.current = merged.length ? merged[merged.length - 1]!.step : undefined;
            return merged;
          });
          setError(null);
          finished = FINISHED.has(j.status);
        } catch (err) {
          if (!cancelled) setError(err);
        }
      }
      if (!cancelled && !finished) timer = setTimeout(run, LIVE_MS);
    };
    void run();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [id, tick]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { job, metrics, logs, error, reload };
}
