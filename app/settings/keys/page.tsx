'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { DataTable } from '../../components/data-table';
import { formatDateTime } from '../../components/format';
import { useErrorToast, useToast } from '../../components/toast';
import { ClassificationSelect } from '../../components/classification-select';
import { useI18n } from '../../i18n/provider';
import { useTRPC, type RouterOutputs } from '../../lib/trpc';

type ApiKey = RouterOutputs['keys']['list'][number];

export default function ApiKeysPage() {
  const { t, locale } = useI18n();
  const toast = useToast();
  const [name, setName] = useState('');
  const [models, setModels] = useState('');
  const [days, setDays] = useState('');
  // The key's classification (data protection): requests through it are held to this level ('': the default).
  const [level, setLevel] = useState('');
  const [created, setCreated] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.keys.list.queryOptions());
  const levels = useQuery(trpc.classification.levels.queryOptions());
  const setKeyLevel = useMutation(trpc.classification.set.mutationOptions());
  useErrorToast(list.error);
  const keys = list.data ?? (list.error ? [] : null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.keys.list.queryKey() });
  const createKey = useMutation(trpc.keys.create.mutationOptions());
  const revokeKey = useMutation(trpc.keys.revoke.mutationOptions({ onError: (err) => toast.error(err), onSettled: refresh }));
  const busy = createKey.isPending;

  async function create(event: FormEvent) {
    event.preventDefault();
    try {
      const modelList = models.split(',').map((m) => m.trim()).filter(Boolean);
      const result = await createKey.mutateAsync({
        name: name.trim(),
        models: modelList.length ? modelList : undefined,
        expiresInDays: days ? Number(days) : undefined,
      });
      if (level !== '') await setKeyLevel.mutateAsync({ kind: 'api_key', id: result.id, level: Number(level) });
      setCreated(result.key);
      setName('');
      setLevel('');
      setModels('');
      setDays('');
      void refresh();
    } catch (err) {
      toast.error(err);
    }
  }

  function revoke(key: ApiKey) {
    setRevoking(null);
    revokeKey.mutate({ id: key.id });
  }

  const statusOf = (k: ApiKey) =>
    k.revokedAt ? t('keys.revoked') : k.expiresAt && k.expiresAt.getTime() < Date.now() ? t('keys.expired') : t('keys.active');

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
        <label className="field field-narrow">
          <span>{t('dp.level')}</span>
          <select value={level} onChange={(e) => setLevel(e.target.value)} data-testid="key-level">
            <option value="">{levels.data ? t('dp.default', { level: levels.data.names[levels.data.defaultLevel]! }) : ''}</option>
            {levels.data?.names.map((n, i) => (
              <option key={n} value={i}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="button button-primary" disabled={busy || !name.trim()} data-testid="create-key">
          {t('keys.create')}
        </button>
      </form>

      <DataTable
        testId="keys-table"
        head={
          <>
            <th>{t('keys.name')}</th>
            <th>{t('keys.prefix')}</th>
            <th>{t('keys.models')}</th>
            <th>{t('keys.expires')}</th>
            <th>{t('keys.lastUsed')}</th>
            <th>{t('keys.created')}</th>
            <th>{t('keys.status')}</th>
            <th>{t('dp.level')}</th>
            <th />
          </>
        }
        columns={9}
        loading={keys === null}
        empty={keys?.length === 0 && t('keys.empty')}
      >
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
            <td>{!k.revokedAt && <ClassificationSelect kind="api_key" id={k.id} testId={`key-level-${k.id}`} />}</td>
            <td>
              {!k.revokedAt && (
                <button type="button" className="text-button danger" onClick={() => setRevoking(k)}>
                  {t('keys.revoke')}
                </button>
              )}
            </td>
          </tr>
        ))}
      </DataTable>
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
