'use client';

import { useState } from 'react';
import { useI18n } from '../../i18n/provider';
import { ConfirmDialog } from '../confirm-dialog';
import { useToast } from '../toast';
import { experimentsApi, type ExperimentView } from './api';

/** Start, stop and promote (both confirmed: they change what every client of the name gets). */
export function ExperimentActions({ experiment, onChanged }: { experiment: ExperimentView; onChanged(): void }) {
  const { t } = useI18n();
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState<{ kind: 'stop' } | { kind: 'promote'; variantId: string; label: string } | null>(null);
  const { status } = experiment;

  async function act(action: () => Promise<unknown>) {
    setBusy(true);
    try {
      await action();
    } catch (err) {
      toast.error(err);
    } finally {
      setBusy(false);
      onChanged();
    }
  }

  return (
    <div className="actions-row" data-testid="experiment-actions">
      {status === 'draft' && (
        <button type="button" className="button button-primary" disabled={busy} onClick={() => void act(() => experimentsApi.start(experiment.id))} data-testid="experiment-start">
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
            void act(() => (c.kind === 'stop' ? experimentsApi.stop(experiment.id) : experimentsApi.promote(experiment.id, c.variantId)));
          }}
        />
      )}
    </div>
  );
}
