'use client';

import { useMutation } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { useI18n } from '../../i18n/provider';
import { ConfirmDialog } from '../confirm-dialog';
import { useToast } from '../toast';
import { useBusyAction } from '../use-busy-action';
import { useTRPC } from '../../lib/trpc';
import type { DeploymentSummary } from './views';

/** Scale, stop, start and delete (confirmed); only rendered for those who may change the fleet. */
export function DeploymentActions({ deployment, onChanged }: { deployment: DeploymentSummary; onChanged(): void }) {
  const { t } = useI18n();
  const toast = useToast();
  const router = useRouter();
  const [replicas, setReplicas] = useState(String(deployment.desiredReplicas));
  const [confirming, setConfirming] = useState<'stop' | 'delete' | null>(null);
  const { busy, act } = useBusyAction(onChanged);
  const trpc = useTRPC();
  const scale = useMutation(trpc.deployments.scale.mutationOptions()).mutateAsync;
  const start = useMutation(trpc.deployments.start.mutationOptions()).mutateAsync;
  const stop = useMutation(trpc.deployments.stop.mutationOptions()).mutateAsync;
  const remove = useMutation(trpc.deployments.delete.mutationOptions()).mutateAsync;
  const stopped = deployment.status === 'stopped' || deployment.desiredReplicas === 0;
  const wanted = Number(replicas);
  const validScale = /^\d+$/.test(replicas.trim()) && wanted <= 64 && wanted !== deployment.desiredReplicas;

  return (
    <div className="actions-row" data-testid="deployment-actions">
      <label style={{ display: 'inline-flex', gap: 6, alignItems: 'center' }}>
        <span className="muted">{t('deployments.scaleTo')}</span>
        <input type="number" min={0} max={64} value={replicas} onChange={(e) => setReplicas(e.target.value)} data-testid="scale-replicas" />
      </label>
      <button type="button" className="button" disabled={busy || !validScale} onClick={() => void act(() => scale({ id: deployment.id, replicas: wanted }))} data-testid="scale">
        {t('deployments.scale')}
      </button>
      {stopped ? (
        <button type="button" className="button" disabled={busy} onClick={() => void act(() => start({ id: deployment.id }))} data-testid="start">
          {t('deployments.start')}
        </button>
      ) : (
        <button type="button" className="button" disabled={busy} onClick={() => setConfirming('stop')} data-testid="stop">
          {t('deployments.stop')}
        </button>
      )}
      <button type="button" className="button button-danger" disabled={busy} onClick={() => setConfirming('delete')} data-testid="delete">
        {t('common.delete')}
      </button>
      {confirming && (
        <ConfirmDialog
          message={t(confirming === 'stop' ? 'deployments.confirmStop' : 'deployments.confirmDelete', { name: deployment.name })}
          confirmLabel={confirming === 'stop' ? t('deployments.stop') : t('common.delete')}
          onCancel={() => setConfirming(null)}
          onConfirm={() => {
            const which = confirming;
            setConfirming(null);
            if (which === 'stop') void act(() => stop({ id: deployment.id }));
            else
              void act(
                () => remove({ id: deployment.id }),
                () => {
                  toast.show(t('deployments.deleted', { name: deployment.name }));
                  router.push('/deployments');
                },
              );
          }}
        />
      )}
    </div>
  );
}
