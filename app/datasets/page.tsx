'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { formatDateTime } from '../components/format';
import { formatBytes } from '../components/fleet/format';
import { useI18n } from '../i18n/provider';
import { readableError } from '../lib/errors';
import { useTRPC } from '../lib/trpc';
import { UploadForm } from './_components/upload-form';

export default function DatasetsPage() {
  const { t, locale } = useI18n();
  const trpc = useTRPC();
  const { data: list, error, refetch } = useQuery(trpc.datasets.list.queryOptions());
  // Only for the tokenizer choice: a failure leaves the estimate as the one option.
  const { data: models } = useQuery(trpc.catalog.list.queryOptions());
  const number = new Intl.NumberFormat(locale);

  return (
    <div className="manage-page fleet-page">
      <div className="page-head">
        <div>
          <h1>{t('datasets.title')}</h1>
          <p className="muted">{t('datasets.subtitle')}</p>
        </div>
      </div>
      <UploadForm models={models ?? []} onUploaded={() => void refetch()} />
      {error !== null && !list && <p className="form-error">{readableError(error, t)}</p>}
      {!list && error === null && <p className="muted">{t('common.loading')}</p>}
      {list?.length === 0 && <p className="muted">{t('datasets.empty')}</p>}
      {list && list.length > 0 && (
        <div className="table-wrap">
          <table className="table table-dense" data-testid="datasets-table">
            <thead>
              <tr>
                <th>{t('datasets.name')}</th>
                <th>{t('datasets.format')}</th>
                <th className="num">{t('datasets.rows')}</th>
                <th className="num">{t('datasets.tokens')}</th>
                <th className="num">{t('datasets.size')}</th>
                <th>{t('datasets.owner')}</th>
                <th>{t('datasets.created')}</th>
              </tr>
            </thead>
            <tbody>
              {list.map((d) => {
                const tokens = d.stats.tokens;
                const estimated = d.stats.tokenizer?.kind !== 'model';
                return (
                  <tr key={d.id} data-testid="dataset-row" data-name={d.name}>
                    <td>
                      <Link href={`/datasets/${d.id}`}>
                        <strong>{d.name}</strong>
                      </Link>
                    </td>
                    <td>
                      <span className="chip">{d.format}</span>
                    </td>
                    <td className="num">{number.format(d.rows)}</td>
                    <td className="num" title={estimated ? t('datasets.estimateShort') : undefined}>
                      {tokens ? `${estimated ? '≈ ' : ''}${number.format(tokens.total)}` : '—'}
                    </td>
                    <td className="num">{formatBytes(d.sizeBytes)}</td>
                    <td>{d.ownerEmail}</td>
                    <td className="nowrap">{formatDateTime(d.createdAt, locale)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
