'use client';

import { useEffect, useState } from 'react';

/** The current time, moving on every `stepMs`: for inputs that name a time window ("the last hour"). */
export function useNow(stepMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), stepMs);
    return () => clearInterval(timer);
  }, [stepMs]);
  return now;
}
