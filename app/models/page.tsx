'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useMemo } from 'react';
import { formatDateTime } from '../components/format';
import { ReadOnlyNote } from '../components/fleet/fleet-gate';
import { formatBytes, shortSha } from '../components/fleet/format';
import { RegisterVersionForm } from '../components/fleet/register-version-form';
import { ModelLineage } from '../components/lineage/model-lineage';
import { canManageFleet } from '../components/fleet/roles';
import { useSession } from '../components/session';
import { useI18n } from '../i18n/provider';
import { readableError } from '../lib/errors';
import { useTRPC } from '../lib/trpc';

export default function ModelsPage() {
  const { t, locale } = useI18n();
  const { me } = useSession();
  const manage = canManageFleet(me.role);
  const trpc = useTRPC();
  const { data: models, error } = useQuery(trpc.catalog.list.queryOptions());
  // Parents may belong to another model (a fine-tune of a base), so lineage looks across all of them.
  const versionNames = useMemo(() => new Map((models ?? []).flatMap((m) => m.versions.map((v) => [v.id, `${m.name} · ${v.version}`] as const))), [models]);

  return (
    <div className="manage-page fleet-page">
      <div className="page-head">
        <div>
          <h1>{t('models.title')}</h1>
          <p className="muted">{t('models.subtitle')}</p>
        </div>
      </div>
      {!manage && <ReadOnlyNote />}
      {manage && models && <RegisterVersionForm models={models} />}
      {error !== null && !models && <p className="form-error">{readableError(error, t)}</p>}
      {!models && error === null && <p className="muted">{t('common.loading')}</p>}
      {models?.length === 0 && <p className="muted">{t('models.empty')}</p>}
      {models?.map((m) => (
        <section key={m.id} className="card model-card" data-testid="model-card" data-model={m.name}>
          <h2>{m.name}</h2>
          {m.description && <p className="muted" style={{ margin: 0 }}>{m.description}</p>}
          {m.versions.length === 0 ? (
            <p className="muted">{t('models.noVersions')}</p>
          ) : (
            <div className="table-wrap">
              <table className="table table-dense">
                <thead>
                  <tr>
                    <th>{t('models.version')}</th>
                    <th>{t('models.format')}</th>
                    <th>{t('models.dtype')}</th>
                    <th>{t('models.quantization')}</th>
                    <th>{t('models.size')}</th>
                    <th>{t('models.sha256')}</th>
                    <th>{t('models.parent')}</th>
                    <th>{t('models.created')}</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {m.versions.map((v) => (
                    <tr key={v.id} id={`version-${v.id}`} data-testid="version-row" data-format={v.format}>
                      <td title={v.location}>
                        <strong>{v.version}</strong>
                      </td>
                      <td>
                        <span className="chip">{v.format}</span>
                      </td>
                      <td>{v.dtype ?? '—'}</td>
                      <td>{v.quantization ?? '—'}</td>
                      <td className="nowrap">{formatBytes(v.sizeBytes)}</td>
                      <td className="mono" title={v.sha256 ?? undefined}>
                        {shortSha(v.sha256)}
                      </td>
                      <td>{v.parentVersionId ? <span className="chip">{versionNames.get(v.parentVersionId) ?? shortSha(v.parentVersionId)}</span> : '—'}</td>
                      <td className="nowrap">{formatDateTime(v.createdAt, locale)}</td>
                      <td>
                        {manage && (
                          <Link className="button button-primary" href={`/deployments/new?version=${encodeURIComponent(v.id)}`} data-testid="version-deploy">
                            {t('models.deploy')}
                          </Link>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {models && <ModelLineage model={m} models={models} />}
        </section>
      ))}
    </div>
  );
}
