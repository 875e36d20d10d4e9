'use client';

import { useState } from 'react';
import { useToast } from './toast';

/**
 * One action at a time for a row of action buttons: `busy` while it runs (the buttons disable), a
 * failure shown as an error toast, `after` run only when it succeeded, and `settled` (say, a refetch)
 * run whatever happened.
 */
export function useBusyAction(settled?: () => void) {
  const toast = useToast();
  const [busy, setBusy] = useState(false);

  async function act(action: () => Promise<unknown>, after?: () => void) {
    setBusy(true);
    try {
      await action();
      after?.();
    } catch (err) {
      toast.error(err);
    } finally {
      setBusy(false);
      settled?.();
    }
  }

  return { busy, act };
}
