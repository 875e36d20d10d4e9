'use client';

import { useCallback, useEffect, useRef, useState } from 'react';

interface Polled<T> {
  data: T | undefined;
  error: unknown;
  /** Loads again now (after a mutation, say). */
  reload(): void;
}

/**
 * Calls `load` now and every `intervalMs` while the page is visible, keeping the last good answer when
 * a later call fails. `key` restarts polling when what is loaded changes (another replica, say).
 */
export function usePoll<T>(load: () => Promise<T>, intervalMs: number, key: unknown = null): Polled<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const loadRef = useRef(load);
  loadRef.current = load;
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      if (document.visibilityState !== 'hidden') {
        try {
          const value = await loadRef.current();
          if (cancelled) return;
          setData(value);
          setError(null);
        } catch (err) {
          if (!cancelled) setError(err);
        }
      }
      if (!cancelled && intervalMs > 0) timer = setTimeout(run, intervalMs);
    };
    void run();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [intervalMs, key, tick]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, reload };
}
