'use client';

import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { formatDateTime } from '../../components/format';
import { useToast } from '../../components/toast';
import { useI18n } from '../../i18n/provider';
import { trpc, type RouterOutputs } from '../../lib/trpc';

type ApiKey = RouterOutputs['keys']['list'][number];

export default function ApiKeysPage() {
  const { t, locale } = useI18n();
  const toast = useToast();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [name, setName] = useState('');
  const [models, setModels] = useState('');
  const [days, setDays] = useState('');
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);

  const refresh = useCallback(() => {
    trpc.keys.list
      .query()
      .then(setKeys)
      .catch((err) => {
        setKeys((k) => k ?? []);
        toast.error(err);
      });
  }, [toast]);
  useEffect(refresh, [refresh]);

  async function create(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    try {
      const modelList = models.split(',').map((m) => m.trim()).filter(Boolean);
      const result = await trpc.keys.create.mutate({
        name: name.trim(),
        models: modelList.length ? modelList : undefined,
        expiresInDays: days ? Number(days) : undefined,
      });
      setCreated(result.key);
      setName('');
      setModels('');
      setDays('');
      refresh();
    } catch (err) {
      toast.error(err);
    } finally {
      setBusy(false);
    }
  }

  async function revoke(key: ApiKey) {
    setRevoking(null);
    try {
      await trpc.keys.revoke.mutate({ id: key.id });
    } catch (err) {
      toast.error(err);
    }
    refresh();
  }

  const statusOf = (k: ApiKey) =>
    k.revokedAt ? t('keys.revoked') : k.expiresAt && new Date(k.expiresAt).getTime() < Date.now() ? t('keys.expired') : t('keys.active');

  return (
    <div className="manage-page">
      <h1>{t('keys.title')}</h1>
      <p className="muted">{t('keys.subtitle')}</p>

      {created && (
        <div className="card key-reveal" role="status" data-testid="new-key">
          <strong>{t('keys.createdTitle')}</strong>
          <p className="muted">{t('keys.createdHint')}</p>
          <div className="key-reveal-row">
            <code data-testid="new-key-value">{created}</code>
            <button type="button" className="button" onClick={() => void navigator.clipboard?.writeText(created).then(() => toast.show(t('common.copied')))}>
              {t('common.copy')}
            </button>
            <button type="button" className="button button-quiet" onClick={() => setCreated(null)}>
              {t('common.close')}
            </button>
          </div>
        </div>
      )}

      <form className="card inline-form" onSubmit={create}>
        <label className="field">
          <span>{t('keys.name')}</span>
          <input required value={name} onChange={(e) => setName(e.target.value)} data-testid="key-name" />
        </label>
        <label className="field">
          <span>{t('keys.models')}</span>
          <input value={models} placeholder={t('keys.allModels')} title={t('keys.modelsHint')} onChange={(e) => setModels(e.target.value)} />
        </label>
        <label className="field field-narrow">
          <span>{t('keys.expiresInDays')}</span>
          <input type="number" min={1} value={days} placeholder={t('keys.expiresHint')} onChange={(e) => setDays(e.target.value)} />
        </label>
        <button type="submit" className="button button-primary" disabled={busy || !name.trim()} data-testid="create-key">
          {t('keys.create')}
        </button>
      </form>

      <div className="table-wrap">
        <table className="table" data-testid="keys-table">
          <thead>
            <tr>
              <th>{t('keys.name')}</th>
              <th>{t('keys.prefix')}</th>
              <th>{t('keys.models')}</th>
              <th>{t('keys.expires')}</th>
              <th>{t('keys.lastUsed')}</th>
              <th>{t('keys.created')}</th>
              <th>{t('keys.status')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {keys === null && (
              <tr>
                <td colSpan={8} className="muted">{t('common.loading')}</td>
              </tr>
            )}
            {keys?.length === 0 && (
              <tr>
                <td colSpan={8} className="muted">{t('keys.empty')}</td>
              </tr>
            )}
            {keys?.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td>
                  <code>{k.prefix}…</code>
                </td>
                <td>{k.models?.length ? k.models.join(', ') : t('keys.allModels')}</td>
                <td>{formatDateTime(k.expiresAt, locale) || t('common.never')}</td>
                <td>{formatDateTime(k.lastUsedAt, locale) || t('common.never')}</td>
                <td>{formatDateTime(k.createdAt, locale)}</td>
                <td>{statusOf(k)}</td>
                <td>
                  {!k.revokedAt && (
                    <button type="button" className="text-button danger" onClick={() => setRevoking(k)}>
                      {t('keys.revoke')}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {revoking && (
        <ConfirmDialog
          message={t('keys.confirmRevoke', { name: revoking.name })}
          confirmLabel={t('keys.revoke')}
          onCancel={() => setRevoking(null)}
          onConfirm={() => void revoke(revoking)}
        />
      )}
    </div>
  );
}
