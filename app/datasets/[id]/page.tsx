'use client';

import { useMutation, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams, useRouter } from 'next/navigation';
import { useState } from 'react';
import { Histogram } from '../../components/charts/histogram';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { formatDateTime } from '../../components/format';
import { formatBytes } from '../../components/fleet/format';
import { useToast } from '../../components/toast';
import { ClassificationSelect } from '../../components/classification-select';
import { useI18n } from '../../i18n/provider';
import { readableError } from '../../lib/errors';
import { errorCode, useTRPC, type RouterOutputs } from '../../lib/trpc';

type PreviewRow = RouterOutputs['datasets']['preview']['rows'][number];

const PREVIEW_ROWS = 10;

export default function DatasetPage() {
  const { t, locale } = useI18n();
  const { id } = useParams<{ id: string }>();
  const router = useRouter();
  const toast = useToast();
  const trpc = useTRPC();
  const { data: d, error } = useQuery(trpc.datasets.get.queryOptions({ id }));
  const { data: preview, error: previewError } = useQuery(trpc.datasets.preview.queryOptions({ id, limit: PREVIEW_ROWS }));
  const deleteDataset = useMutation(trpc.datasets.delete.mutationOptions());
  const [confirming, setConfirming] = useState(false);
  const number = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });

  if (!d) {
    const missing = errorCode(error) === 'NOT_FOUND';
    return (
      <div className="manage-page fleet-page">
        <Link href="/datasets">← {t('datasets.backToList')}</Link>
        {error ? <p className="form-error" data-testid="dataset-error">{missing ? t('datasets.notFound') : readableError(error, t)}</p> : <p className="muted">{t('common.loading')}</p>}
      </div>
    );
  }

  const { stats, split } = d;
  const tokenizer = stats.tokenizer;
  const remove = async () => {
    setConfirming(false);
    try {
      await deleteDataset.mutateAsync({ id: d.id });
      toast.show(t('datasets.deleted'));
      router.push('/datasets');
    } catch (err) {
      toast.error(err);
    }
  };

  return (
    <div className="manage-page fleet-page" data-testid="dataset-detail">
      <Link href="/datasets">← {t('datasets.backToList')}</Link>
      <div className="page-head">
        <div>
          <h1>{d.name}</h1>
          <p className="muted" style={{ display: 'flex', gap: 10, alignItems: 'center', flexWrap: 'wrap' }}>
            <span className="chip">{d.format}</span>
            <span>{formatBytes(d.sizeBytes)}</span>
            <span>{d.ownerEmail}</span>
            <span>{formatDateTime(d.createdAt, locale)}</span>
            <ClassificationSelect kind="dataset" id={d.id} />
          </p>
        </div>
        <span className="spacer" />
        <button type="button" className="button" onClick={() => setConfirming(true)} data-testid="dataset-delete">
          {t('datasets.delete')}
        </button>
      </div>

      <div className="dataset-grid">
        <section className="card dataset-panel" data-testid="dataset-stats">
          <h2>{t('datasets.stats')}</h2>
          <div className="figures">
            <Figure label={t('datasets.rows')} value={number.format(d.rows)} testId="stat-rows" />
            <Figure label={t('datasets.messages')} value={number.format(stats.messages)} />
            <Figure label={t('datasets.chars')} value={number.format(stats.chars)} />
            {stats.tokens && (
              <>
                <Figure label={t('datasets.tokensTotal')} value={number.format(stats.tokens.total)} testId="stat-tokens" />
                <Figure label={t('datasets.tokensMean')} value={number.format(stats.tokens.mean)} />
                <Figure label={t('datasets.tokensP50')} value={number.format(stats.tokens.p50)} />
                <Figure label={t('datasets.tokensP95')} value={number.format(stats.tokens.p95)} />
                <Figure label={t('datasets.tokensMax')} value={number.format(stats.tokens.max)} />
              </>
            )}
          </div>
          <p className="muted" style={{ margin: 0, fontSize: 12 }} data-testid="dataset-tokenizer">
            {tokenizer?.kind === 'model'
              ? t('datasets.countedBy', { model: tokenizer.model, version: tokenizer.version })
              : tokenizer?.versionId
                ? t('datasets.estimated', { reason: tokenizer.reason })
                : t('datasets.estimatedNoModel')}
          </p>
          {stats.tokenHistogram && stats.tokens && (
            <Histogram
              label={t('datasets.histogram')}
              unit={t('datasets.tokens')}
              height={200}
              series={[{ name: t('datasets.histogramSeries'), buckets: stats.tokenHistogram }]}
              percentiles={[
                { label: 'p50', value: stats.tokens.p50 },
                { label: 'p95', value: stats.tokens.p95 },
              ]}
              testId="dataset-histogram"
            />
          )}
        </section>

        <section className="card dataset-panel" data-testid="dataset-split">
          <h2>{t('datasets.split')}</h2>
          <div className="split-bar" title={t('datasets.splitDetail', { fraction: `${Math.round(split.heldOutFraction * 100)}%`, seed: split.seed })}>
            <span className="train" style={{ width: `${(split.trainRows / Math.max(1, d.rows)) * 100}%` }} />
            <span className="held" style={{ width: `${(split.heldOutRows / Math.max(1, d.rows)) * 100}%` }} />
          </div>
          <div className="figures">
            <Figure label={t('datasets.train')} value={number.format(split.trainRows)} testId="stat-train" />
            <Figure label={t('datasets.heldOutRows')} value={number.format(split.heldOutRows)} testId="stat-heldout" />
          </div>
          <p className="muted" style={{ margin: 0, fontSize: 12 }}>
            {t('datasets.splitDetail', { fraction: `${Math.round(split.heldOutFraction * 1000) / 10}%`, seed: split.seed })}
          </p>
          <h2>{t('datasets.sha256')}</h2>
          <p className="sha" style={{ margin: 0 }} data-testid="dataset-sha256">
            {d.sha256}
          </p>
        </section>
      </div>

      <h2 style={{ margin: '8px 0 0', fontSize: 16 }}>{t('datasets.preview')}</h2>
      {previewError !== null && !preview && <p className="form-error">{readableError(previewError, t)}</p>}
      {!preview && previewError === null && <p className="muted">{t('common.loading')}</p>}
      {preview && <PreviewTable rows={preview.rows} />}
      {confirming && <ConfirmDialog message={t('datasets.deleteConfirm', { name: d.name })} confirmLabel={t('common.delete')} onConfirm={remove} onCancel={() => setConfirming(false)} />}
    </div>
  );
}

function Figure({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div>
      <span className="muted">{label}</span>
      <b data-testid={testId}>{value}</b>
    </div>
  );
}

function PreviewTable({ rows }: { rows: PreviewRow[] }) {
  const { t } = useI18n();
  return (
    <div className="table-wrap">
      <table className="table table-dense" data-testid="dataset-preview">
        <thead>
          <tr>
            <th className="num">#</th>
            <th>{t('datasets.previewPart')}</th>
            <th>{t('datasets.previewMessages')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.index} data-testid="preview-row">
              <td className="num muted">{r.index + 1}</td>
              <td>
                <span className={r.part === 'train' ? 'chip' : 'chip chip-accent'}>{r.part === 'train' ? t('datasets.train') : t('datasets.heldOutRows')}</span>
              </td>
              <td>
                <div className="turns">
                  {r.messages.map((m, i) => (
                    <div key={i} className="turn">
                      <span className={`chip role-${m.role}`}>{m.role}</span>
                      <div>{m.content}</div>
                    </div>
                  ))}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
