'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ConfirmDialog } from '../confirm-dialog';
import { DataTable } from '../data-table';
import { IconButton, TrashIcon } from '../icons';
import { useToast } from '../toast';
import { useI18n } from '../../i18n/provider';
import { useTRPC } from '../../lib/trpc';
import type { WebhookView } from './views';

/** Where alerts are posted. The URL is typed once; afterwards only its host is shown. */
export function WebhooksPanel({ webhooks, canEdit }: { webhooks: WebhookView[]; canEdit: boolean }) {
  const { t } = useI18n();
  const toast = useToast();
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [deleting, setDeleting] = useState<WebhookView | null>(null);
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const changed = { onSuccess: () => queryClient.invalidateQueries(trpc.monitoring.webhooks.pathFilter()), onError: (err: unknown) => toast.error(err) };
  const createWebhook = useMutation(trpc.monitoring.createWebhook.mutationOptions(changed));
  const updateWebhook = useMutation(trpc.monitoring.updateWebhook.mutationOptions(changed));
  const deleteWebhook = useMutation(trpc.monitoring.deleteWebhook.mutationOptions(changed));
  const testWebhook = useMutation(trpc.monitoring.testWebhook.mutationOptions({ onError: (err) => toast.error(err) }));
  const busy = createWebhook.isPending;

  const add = (e: FormEvent) => {
    e.preventDefault();
    createWebhook.mutate(
      { name, secretUrl: url },
      {
        onSuccess: () => {
          setName('');
          setUrl('');
          toast.show(t('alerts.webhooks.added'));
        },
      },
    );
  };
  const test = (hook: WebhookView) =>
    testWebhook.mutate(
      { id: hook.id },
      {
        onSuccess: (r) => {
          if (r.ok) toast.show(t('alerts.webhooks.testOk', { status: r.status }));
          else toast.show(t('alerts.webhooks.testFailed', { error: r.error }), 'error');
        },
      },
    );

  return (
    <>
      <p className="muted" style={{ fontSize: 13 }}>{t('alerts.webhooks.help')}</p>
      {webhooks.length === 0 ? (
        <p className="muted">{t('alerts.webhooks.empty')}</p>
      ) : (
        <DataTable
          testId="webhooks-table"
          className="table table-dense"
          head={
            <>
              <th>{t('alerts.rules.enabled')}</th>
              <th>{t('alerts.webhooks.name')}</th>
              <th>{t('alerts.webhooks.host')}</th>
              {canEdit && <th />}
            </>
          }
        >
          {webhooks.map((w) => (
            <tr key={w.id} data-testid="webhook-row">
              <td>
                <input type="checkbox" checked={w.enabled} disabled={!canEdit} onChange={() => updateWebhook.mutate({ id: w.id, enabled: !w.enabled })} aria-label={t('alerts.rules.enabled')} />
              </td>
              <td>
                <strong>{w.name}</strong>
              </td>
              <td className="mono">{w.host}</td>
              {canEdit && (
                <td>
                  <span className="row-actions">
                    <button type="button" className="button button-quiet" onClick={() => test(w)} data-testid="webhook-test">
                      {t('alerts.webhooks.test')}
                    </button>
                    <IconButton label={t('common.delete')} icon={<TrashIcon />} onClick={() => setDeleting(w)} />
                  </span>
                </td>
              )}
            </tr>
          ))}
        </DataTable>
      )}
      {canEdit && (
        <form className="card inline-form" onSubmit={add} data-testid="webhook-form">
          <label className="field field-narrow">
            <span>{t('alerts.webhooks.name')}</span>
            <input type="text" value={name} onChange={(e) => setName(e.target.value)} required maxLength={120} />
          </label>
          <label className="field">
            <span>{t('alerts.webhooks.url')}</span>
            {/* A password field: the URL usually carries a token, and should not linger on screen. */}
            <input type="password" value={url} onChange={(e) => setUrl(e.target.value)} required placeholder="https://" autoComplete="off" />
          </label>
          <button type="submit" className="button button-primary" disabled={busy}>
            {t('alerts.webhooks.add')}
          </button>
        </form>
      )}
      {deleting && (
        <ConfirmDialog
          message={t('alerts.webhooks.deleteConfirm', { name: deleting.name })}
          confirmLabel={t('common.delete')}
          onConfirm={() => {
            const hook = deleting;
            setDeleting(null);
            deleteWebhook.mutate({ id: hook.id });
          }}
          onCancel={() => setDeleting(null)}
        />
      )}
    </>
  );
}
