'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import { jobsApi } from './jobs-api';
import { FINISHED, type JobView, type MetricView } from './types';

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
 * A job, its metric points and its last log lines, fetched whenever the server's event stream says the
 * job changed (polling every 1.5 s when there is no stream) and once more when it finishes; then it
 * stops. Metrics are fetched incrementally (sinceStep).
 */
export function useJobLive(id: string): Live {
  const [job, setJob] = useState<JobView | undefined>(undefined);
  const [metrics, setMetrics] = useState<MetricView[]>([]);
  const [logs, setLogs] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const lastStep = useRef<number | undefined>(undefined);
  const streaming = useRef(false);
  const wake = useRef<() => void>(() => {});

  // Server-sent events (fed by the runner's Redis messages) say when the job changed; each one triggers
  // a fetch now instead of at the next poll. Without them (proxy, old browser) polling carries on alone.
  useEffect(() => {
    if (typeof EventSource === 'undefined') return;
    const events = new EventSource(`/api/jobs/${encodeURIComponent(id)}/events`);
    events.onopen = () => void (streaming.current = true);
    events.onmessage = (event: MessageEvent<string>) => {
      wake.current();
      // The server ends the stream when the job finishes; closing here keeps the browser from reconnecting.
      try {
        if (FINISHED.has((JSON.parse(event.data) as { status: JobView['status'] }).status)) events.close();
      } catch {
        // not JSON: the fetch it triggered is all that matters
      }
    };
    // A dropped stream reconnects by itself; until then, poll at the normal pace.
    events.onerror = () => void (streaming.current = false);
    return () => {
      streaming.current = false;
      events.close();
    };
  }, [id]);

  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inFlight = false;
    let again = false;
    let done = false;
    wake.current = () => {
      if (cancelled || done) return;
      if (inFlight) again = true;
      else {
        clearTimeout(timer);
        void run();
      }
    };
    const run = async () => {
      inFlight = true;
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
      inFlight = false;
      done = finished;
      if (cancelled || finished) return;
      if (again) {
        again = false;
        return void run();
      }
      timer = setTimeout(run, streaming.current ? STREAMING_POLL_MS : LIVE_MS);
    };
    void run();
    return () => {
      cancelled = true;
      clearTimeout(timer);
      wake.current = () => {};
    };
  }, [id, tick]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { job, metrics, logs, error, reload };
}
