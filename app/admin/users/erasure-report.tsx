'use client';

import { useI18n } from '../../i18n/provider';
import type { RouterOutputs } from '../../lib/trpc';

type Report = RouterOutputs['users']['erase'];

/** The verification report of a deletion or erasure, as the server answered it: what went, and the proofs that the keys are gone. */
export function ErasureReportView({ report, onClose }: { report: Report; onClose(): void }) {
  const { t } = useI18n();
  const counts = (o: Record<string, number>) =>
    Object.entries(o)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || '—';
  const k = report.keys;
  const ok = k.remaining === 0 && k.referencingRows === 0 && (!k.sampleDecryption || k.sampleDecryption.failed) && report.files.remaining === 0;
  return (
    <div className="card" role="status" data-testid="erasure-report">
      <strong>{t('erasure.reportTitle', { email: report.email })}</strong> {!ok && <span className="badge badge-failure">{t('erasure.incomplete')}</span>}
      <ul>
        <li data-testid="erasure-deleted">
          {t('erasure.deleted')}: {counts(report.deleted)}
        </li>
        {Object.values(report.detached).some((n) => n > 0) && (
          <li>
            {t('erasure.detached')}: {counts(report.detached)}
          </li>
        )}
        <li>{t('erasure.kept', { audit: report.kept.auditRows, usage: report.kept.usageDailyRows })}</li>
        <li data-testid="erasure-keys">
          {t('erasure.keysDestroyed', { ids: k.destroyed.join(', ') || '—' })}; {t('erasure.keysProof', { remaining: k.remaining, rows: k.referencingRows })}
        </li>
        <li data-testid="erasure-sample">
          {k.sampleDecryption
            ? k.sampleDecryption.failed
              ? t('erasure.sampleFailed', { bytes: k.sampleDecryption.bytes, key: k.sampleDecryption.dataKeyId, error: k.sampleDecryption.error })
              : t('erasure.sampleOpened')
            : t('erasure.noSample')}
        </li>
        {k.contentUnderSharedKeys > 0 && <li>{t('erasure.sharedKeys', { n: k.contentUnderSharedKeys })}</li>}
        <li>{t('erasure.files', { deleted: report.files.deleted, remaining: report.files.remaining })}</li>
        {report.backups && (
          <li data-testid="erasure-backups">
            {'skipped' in report.backups
              ? t('erasure.backupsSkipped', { reason: report.backups.skipped })
              : t('erasure.backups', { backups: report.backups.backups, keys: report.backups.keysRemoved })}
          </li>
        )}
      </ul>
      <button type="button" className="button button-quiet" onClick={onClose}>
        {t('common.close')}
      </button>
    </div>
  );
}
