'use client';

import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useI18n } from '../../i18n/provider';
import { ConfirmDialog } from '../confirm-dialog';
import { useBusyAction } from '../use-busy-action';
import { useTRPC } from '../../lib/trpc';
import type { ExperimentView } from './views';

/** Start, stop and promote (both confirmed: they change what every client of the name gets). */
export function ExperimentActions({ experiment, onChanged }: { experiment: ExperimentView; onChanged(): void }) {
  const { t } = useI18n();
  const { busy, act } = useBusyAction(onChanged);
  const [confirming, setConfirming] = useState<{ kind: 'stop' } | { kind: 'promote'; variantId: string; label: string } | null>(null);
  const { status } = experiment;
  const trpc = useTRPC();
  const start = useMutation(trpc.experiments.start.mutationOptions()).mutateAsync;
  const stop = useMutation(trpc.experiments.stop.mutationOptions()).mutateAsync;
  const promote = useMutation(trpc.experiments.promote.mutationOptions()).mutateAsync;

  return (
    <div className="actions-row" data-testid="experiment-actions">
      {status === 'draft' && (
        <button type="button" className="button button-primary" disabled={busy} onClick={() => void act(() => start({ id: experiment.id }))} data-testid="experiment-start">
          {t('experiments.start')}
        </button>
      )}
      {(status === 'running' || status === 'stopped') &&
        experiment.variants.map((v) => (
          <button key={v.id} type="button" className="button" disabled={busy} onClick={() => setConfirming({ kind: 'promote', variantId: v.id, label: v.label })} data-testid={`promote-${v.label}`}>
            {t('experiments.promote', { label: v.label })}
          </button>
        ))}
      {status === 'running' && (
        <button type="button" className="button button-danger" disabled={busy} onClick={() => setConfirming({ kind: 'stop' })} data-testid="experiment-stop">
          {t('experiments.stop')}
        </button>
      )}
      {confirming && (
        <ConfirmDialog
          message={confirming.kind === 'stop' ? t('experiments.confirmStop', { name: experiment.name }) : t('experiments.confirmPromote', { name: experiment.name, label: confirming.label })}
          confirmLabel={confirming.kind === 'stop' ? t('experiments.stop') : t('experiments.promote', { label: confirming.label })}
          onCancel={() => setConfirming(null)}
          onConfirm={() => {
            const c = confirming;
            setConfirming(null);
            void act(() => (c.kind === 'stop' ? stop({ id: experiment.id }) : promote({ id: experiment.id, variantId: c.variantId })));
          }}
        />
      )}
    </div>
  );
}
