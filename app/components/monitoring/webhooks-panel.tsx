'use client';

import { useState, type FormEvent } from 'react';
import { ConfirmDialog } from '../confirm-dialog';
import { TrashIcon } from '../icons';
import { useToast } from '../toast';
import { useI18n } from '../../i18n/provider';
import { monitoringApi, type WebhookView } from './monitoring-api';

/** Where alerts are posted. The URL is typed once; afterwards only its host is shown. */
export function WebhooksPanel({ webhooks, canEdit, reload }: { webhooks: WebhookView[]; canEdit: boolean; reload(): void }) {
  const { t } = useI18n();
  const toast = useToast();
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [busy, setBusy] = useState(false);
  const [deleting, setDeleting] = useState<WebhookView | null>(null);

  const add = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await monitoringApi.createWebhook(name, url);
      setName('');
      setUrl('');
      toast.show(t('alerts.webhooks.added'));
      reload();
    } catch (err) {
      toast.error(err);
    } finally {
      setBusy(false);
    }
  };
  const act = (fn: () => Promise<unknown>) => async () => {
    try {
      await fn();
      reload();
    } catch (err) {
      toast.error(err);
    }
  };
  const test = async (hook: WebhookView) => {
    try {
      const r = await monitoringApi.testWebhook(hook.id);
      if (r.ok) toast.show(t('alerts.webhooks.testOk', { status: r.status }));
      else toast.show(t('alerts.webhooks.testFailed', { error: r.error }), 'error');
    } catch (err) {
      toast.error(err);
    }
  };

  return (
    <>
      <p className="muted" style={{ fontSize: 13 }}>{t('alerts.webhooks.help')}</p>
      {webhooks.length === 0 ? (
        <p className="muted">{t('alerts.webhooks.empty')}</p>
      ) : (
        <div className="table-wrap">
          <table className="table table-dense" data-testid="webhooks-table">
            <thead>
              <tr>
                <th>{t('alerts.rules.enabled')}</th>
                <th>{t('alerts.webhooks.name')}</th>
                <th>{t('alerts.webhooks.host')}</th>
                {canEdit && <th />}
              </tr>
            </thead>
            <tbody>
              {webhooks.map((w) => (
                <tr key={w.id} data-testid="webhook-row">
                  <td>
                    <input type="checkbox" checked={w.enabled} disabled={!canEdit} onChange={act(() => monitoringApi.updateWebhook(w.id, !w.enabled))} aria-label={t('alerts.rules.enabled')} />
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
                        <button type="button" className="icon-button" onClick={() => setDeleting(w)} aria-label={t('common.delete')} title={t('common.delete')}>
                          <TrashIcon />
                        </button>
                      </span>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
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
            void act(() => monitoringApi.deleteWebhook(hook.id))();
          }}
          onCancel={() => setDeleting(null)}
        />
      )}
    </>
  );
}
